#!/usr/bin/env bash
# The test command the README names: every test of the workspace, then the doc tests
# (nextest does not run doc tests). Uses cargo-nextest when present, else cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."
# Tests that need Chromium, the ADBC driver, moto or confluent-kafka are #[ignore]d (skipped);
# SLATE_RUN_IGNORED=1 (scripts/ci.sh, after installing them) runs them too.
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --all-features --locked --profile ci --no-tests=fail
  if [ -n "${SLATE_RUN_IGNORED:-}" ]; then
    cargo nextest run --workspace --all-features --locked --profile ci --run-ignored only
  fi
else
  cargo test --workspace --all-features --locked --exclude slate-bench
  if [ -n "${SLATE_RUN_IGNORED:-}" ]; then
    cargo test --workspace --all-features --locked --exclude slate-bench -- --ignored
  fi
fi
cargo test --doc --workspace --all-features --locked
