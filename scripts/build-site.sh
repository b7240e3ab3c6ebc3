#!/usr/bin/env bash
# Builds the browser side: the app crate with `hydrate` for wasm32, bound by
# wasm-bindgen and shrunk by wasm-opt, plus the stylesheet and static files,
# into target/site (served by `attest serve`). Skips wasm-bindgen and
# wasm-opt when the compiled wasm has not changed.
set -euo pipefail
cd "$(dirname "$0")/.."
site=target/site
pkg=$site/pkg
raw=target/wasm32-unknown-unknown/wasm-release/app.wasm

cargo build -p app --lib --target wasm32-unknown-unknown --no-default-features --features hydrate \
  --profile wasm-release

mkdir -p "$pkg"
stamp=$pkg/.source-sha256
sum=$(sha256sum "$raw" | cut -d' ' -f1)
if [[ ! -f $stamp || "$(cat "$stamp")" != "$sum" || ! -f $pkg/attest_bg.wasm ]]; then
  wasm-bindgen --target web --no-typescript --out-dir "$pkg" --out-name attest "$raw"
  # The features rustc enables by default for wasm32; wasm-opt must accept them.
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "$pkg/attest_bg.wasm" -o "$pkg/attest_bg.wasm.opt"
  mv "$pkg/attest_bg.wasm.opt" "$pkg/attest_bg.wasm"
  echo "$sum" > "$stamp"
fi
cp style/attest.css "$pkg/attest.css"
cp -r public/. "$site/"
printf 'site: %s (wasm %s KiB)\n' "$site" "$(( $(stat -c %s "$pkg/attest_bg.wasm") / 1024 ))"
