#!/usr/bin/env bash
# Regenerates .sqlx/ (the offline data of the compile-time checked queries)
# by recompiling the crates that hold queries against DATABASE_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DATABASE_URL:?set DATABASE_URL to a database with the migrations applied}"
rm -rf .sqlx && mkdir .sqlx
touch core/src/lib.rs app/src/lib.rs
SQLX_OFFLINE=false SQLX_OFFLINE_DIR="$PWD/.sqlx" cargo build --release -p attest-core -p app --features app/ssr
ls .sqlx | wc -l | xargs printf 'sqlx-prepare: %s queries\n'
