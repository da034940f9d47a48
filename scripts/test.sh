#!/usr/bin/env bash
# The test command the README names: every test of the workspace, then the doc tests
# (nextest does not run doc tests). Uses cargo-nextest when present, else cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --all-features --locked --profile ci --no-tests=fail
else
  cargo test --workspace --all-features --locked --exclude slate-bench
fi
cargo test --doc --workspace --all-features --locked
