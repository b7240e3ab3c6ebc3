# Attest: `make run` builds and serves the portal; `make test` runs every check.
# Both install what is missing first (idempotently; see scripts/setup.sh).

SHELL := /bin/bash
export CARGO_BUILD_JOBS ?= 2
# Compile-time checked queries use the committed .sqlx/ data, never a live database.
export SQLX_OFFLINE ?= true
export PATH := $(CURDIR)/.tools/binaryen/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)

LISTEN ?= 127.0.0.1:3000

.PHONY: run test bench setup setup-test site server build sqlx-prepare clean-site

## Build everything and serve the portal at http://$(LISTEN) (embedded PostgreSQL unless DATABASE_URL is set),
## seeded with a small demo estate when it holds no snapshot yet.
run: setup build
	./target/release/attest demo --accounts 12 --seed 42 --if-empty
	./target/release/attest serve --listen $(LISTEN)

## Formatting, clippy (every feature set), unit, database and browser tests.
# The server is built with every workspace package selected, so its features
# resolve as the test build's do (syn's fold and visit, among others) and the
# nextest build after it reuses the dependency tree instead of compiling it again.
test: SERVER_PACKAGES = --workspace
test: setup-test build
	scripts/test.sh

## The benchmarks (RBAC engine, snapshots): print the figures recorded in BENCHMARKS.md (several minutes).
bench: setup
	scripts/bench.sh

setup:
	scripts/setup.sh

setup-test:
	scripts/setup.sh --test

## The optimised site (WebAssembly, JS glue, CSS, static files) and the release server.
build: site server

site:
	scripts/build-site.sh

SERVER_PACKAGES ?= -p server
server:
	cargo build --release $(SERVER_PACKAGES) --bin attest

## Regenerate .sqlx/ after changing a query (needs a PostgreSQL with the migrations applied in DATABASE_URL).
sqlx-prepare:
	scripts/sqlx-prepare.sh
