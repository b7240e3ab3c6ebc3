#!/usr/bin/env bash
# Installs what building, serving and (with --test) testing Attest need, and
# nothing that is already there: the wasm32 target, the wasm-bindgen CLI at
# the exact version in Cargo.lock, wasm-opt 132 (Debian's older binaryen
# produces WebAssembly that fails to hydrate), Debian's PostgreSQL, and for
# tests Debian's chromium and chromium-driver.
set -euo pipefail
cd "$(dirname "$0")/.."
with_test=false
[[ "${1:-}" == "--test" ]] && with_test=true

say() { printf 'setup: %s\n' "$*"; }
SUDO=""
if [[ $(id -u) != 0 ]]; then SUDO="sudo"; fi

apt_updated=false
apt_install() {
  if ! $apt_updated; then $SUDO apt-get update -qq; apt_updated=true; fi
  say "installing $* (Debian)"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

want_bindgen=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
have_bindgen=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [[ "$have_bindgen" != "$want_bindgen" ]]; then
  say "installing wasm-bindgen-cli $want_bindgen (have: ${have_bindgen:-none}; takes a few minutes once)"
  cargo install wasm-bindgen-cli --version "$want_bindgen" --locked --force
fi

WASM_OPT_VERSION=132.0.0
if ! [[ -x .tools/binaryen/node_modules/.bin/wasm-opt ]] ||
   ! grep -q "\"version\": \"$WASM_OPT_VERSION\"" .tools/binaryen/node_modules/binaryen/package.json 2>/dev/null; then
  command -v npm >/dev/null || apt_install nodejs npm
  say "installing wasm-opt (npm binaryen@$WASM_OPT_VERSION) into .tools/"
  npm install --silent --no-audit --no-fund --prefix .tools/binaryen "binaryen@$WASM_OPT_VERSION" >/dev/null
fi

if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  apt_install postgresql
fi

if $with_test; then
  command -v chromium >/dev/null || apt_install chromium
  command -v chromedriver >/dev/null || apt_install chromium-driver
fi
