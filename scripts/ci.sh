#!/usr/bin/env bash
# The whole CI gate, runnable locally: formatting, lints, tests, doc tests and docs.
# Keep it within CI's 90 minutes on 2 cores: debug builds only, benches are compiled, not run.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUST_BACKTRACE=1 INSTA_UPDATE=no CARGO_TERM_COLOR=never
export CARGO_INCREMENTAL=0 # CI builds once; incremental state only costs disk and time

step() { printf '\n=== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

step "disk"
# A debug build of every feature needs about 11 GB under target/. A full disk shows up as the
# linker dying with a bus error (lld writes its output through mmap), so say it plainly first.
df -h . | tail -1
avail_kb=$(df -Pk . | awk 'NR == 2 {print $4}')
if [ "$avail_kb" -lt $((14 * 1024 * 1024)) ]; then
  echo "warning: $((avail_kb / 1024 / 1024)) GB free here; the build needs about 11 GB (a full disk kills the linker with SIGBUS)" >&2
fi

step "chromium (the report's browser test)"
# The report test opens the HTML in headless Chromium; install Debian's package when missing.
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y chromium
fi

step "ADBC Flight SQL driver (the serve tests' client)"
# `slate serve` is tested with the Python ADBC Flight SQL driver, a real BI client.
if ! python3 -c "import adbc_driver_flightsql.dbapi, pyarrow.parquet" 2>/dev/null; then
  if ! python3 -m pip --version >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y python3-pip
  fi
  python3 -m pip install --quiet adbc-driver-flightsql pyarrow \
    || python3 -m pip install --quiet --break-system-packages adbc-driver-flightsql pyarrow
fi

step "moto (the S3 tests' server)"
# `--input s3://...` is tested against moto's S3 server, which each test starts on a free
# loopback port and stops; its uploads use boto3, which moto brings.
if ! python3 -c "import moto.server, boto3" 2>/dev/null; then
  python3 -m pip install --quiet 'moto[server]' \
    || python3 -m pip install --quiet --break-system-packages 'moto[server]'
fi

step "DuckDB (the provenance test reads the outputs' metadata with it too)"
# The test uses pyarrow (installed above) always and DuckDB's parquet_kv_metadata when present.
if ! python3 -c "import duckdb" 2>/dev/null; then
  python3 -m pip install --quiet duckdb \
    || python3 -m pip install --quiet --break-system-packages duckdb
fi

step "confluent-kafka (the README's Kafka example hosts librdkafka's mock broker with it)"
# The Rust Kafka tests host the mock broker themselves; the README example uses Python's client.
if ! python3 -c "import confluent_kafka" 2>/dev/null; then
  python3 -m pip install --quiet confluent-kafka \
    || python3 -m pip install --quiet --break-system-packages confluent-kafka
fi

step "one build for the quick start and the tests"
bash scripts/check-one-build.sh

step "modules: no circles, no command module importing another"
python3 scripts/check-modules.py

step "rustfmt"
cargo fmt --all --check

step "clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

step "tests"
# The tests that need Chromium, the ADBC driver or moto (installed above) are #[ignore]d so a
# machine without them shows them as skipped; CI runs them explicitly.
SLATE_RUN_IGNORED=1 ./scripts/test.sh

step "rustdoc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features --locked

step "done"
