#!/usr/bin/env bash
# The README's quick start (`cargo run -p slate-cli --all-features -- demo`) and its test
# command (`--workspace --all-features` with dev-dependencies) must build every shared crate
# with the same features, or a newcomer compiles DataFusion twice. Compares the features cargo
# resolves for each build and names every crate whose features differ.
set -euo pipefail
cd "$(dirname "$0")/.."
features() {
  cargo tree --locked "$@" -f '{p} [{f}]' --prefix none 2>/dev/null \
    | sed 's/ (\*)//; s/ (proc-macro)//' | grep -v '^slate' | grep -v '^$' | sort -u
}
run=$(mktemp); test=$(mktemp); trap 'rm -f "$run" "$test"' EXIT
features -p slate-cli --all-features -e normal,build >"$run"
features --workspace --all-features -e normal,build,dev >"$test"
# Crates only the tests use are fine; a crate both build with different features is not.
parted=$(comm -23 "$run" "$test" || true)
if [ -n "$parted" ]; then
  echo "these crates are built with other features by the quick start than by the tests:" >&2
  echo "$parted" >&2
  echo "(add the tests' features to slate-cli's [dependencies]; see its Cargo.toml)" >&2
  exit 1
fi
echo "one build: the quick start's $(wc -l <"$run") crates are built as the tests build them"
