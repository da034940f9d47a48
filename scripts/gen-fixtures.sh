#!/usr/bin/env bash
# Regenerates the small committed fixtures with a fixed seed. Fixtures change only through
# this script; keep fixtures/ under 1 MB in all.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q -p slate-cli
slate=target/debug/slate
rm -rf fixtures/canonical-small
# 2,000 records over one year, 2% with defects: small enough to commit, varied enough to test.
$slate gen --rows 2000 --years 1 --from 2023-01-01 --seed 7 --dirty-rate 0.02 --threads 1 \
  --out fixtures/canonical-small
du -sh fixtures
