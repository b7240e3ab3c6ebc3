#!/usr/bin/env bash
# Every check: formatting, clippy for each feature set, then unit, database
# and browser tests in one nextest run. Database tests use DATABASE_URL, or an
# embedded cluster started here (as `attest serve` would) when it is unset.
# Browser tests drive headless Chromium against the release build in target/.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all --check

# app with `ssr` is checked together with the crates that use it (one pass,
# one feature resolution); app with `hydrate` separately, for wasm32.
step "clippy: app (ssr), core, policy, rbac, server, tests"
cargo clippy --release -p app -p attest-core -p attest-policy -p attest-rbac -p server -p tests --all-targets --features app/ssr -- -D warnings
step "clippy: app (hydrate, wasm32)"
cargo clippy --profile wasm-release -p app --no-default-features --features hydrate \
  --target wasm32-unknown-unknown -- -D warnings

if [[ -z "${DATABASE_URL:-}" ]]; then
  step "starting the embedded PostgreSQL for tests (target/test-pg)"
  DATABASE_URL=$(./target/release/attest db start --data-dir target/test-pg --database postgres)
  export DATABASE_URL
  trap './target/release/attest db stop --data-dir target/test-pg' EXIT
fi

step "tests (unit, database, browser)"
export E2E_ATTEST_BIN="$PWD/target/release/attest"
export ATTEST_SITE_ROOT="$PWD/target/site"
cargo nextest run --release --workspace --no-fail-fast
