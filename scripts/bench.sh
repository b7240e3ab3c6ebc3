#!/usr/bin/env bash
# The benchmarks: the RBAC engine's effective access over 500,000
# assignments, then the snapshot benchmark (builds the release binaries,
# scans, imports and re-imports a 5,000-account estate). Prints the figures
# recorded in BENCHMARKS.md. Uses DATABASE_URL, or the embedded PostgreSQL
# when unset.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p attest-rbac --bench access
cargo build --release -p server --bin attest -p tests --bin bench_snapshots
if [[ -z "${DATABASE_URL:-}" ]]; then
  DATABASE_URL=$(./target/release/attest db start --data-dir target/bench-pg --database postgres)
  export DATABASE_URL
  trap './target/release/attest db stop --data-dir target/bench-pg' EXIT
fi
E2E_ATTEST_BIN="$PWD/target/release/attest" ./target/release/bench_snapshots
