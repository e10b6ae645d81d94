#!/usr/bin/env bash
# Builds the Lambda layer zips of the extension, release profile, static (musl) binaries:
#
#   target/layer/autopilot-extension-x86_64.zip   extensions/autopilot-extension
#   target/layer/autopilot-extension-arm64.zip    extensions/autopilot-extension
#
#   bash extension/build-layer.sh            # both architectures
#   bash extension/build-layer.sh x86_64     # one
#
# Cross-compiles with cargo-lambda + zig from PyPI, installed on first use into .venv/build
# (ring's C/asm needs a C compiler for each target; zig is one for all). Needs the rustup
# targets x86_64-unknown-linux-musl / aarch64-unknown-linux-musl (added if missing). Kept out
# of the test path: CI must not depend on a toolchain download.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv/build"
OUT="$ROOT/target/layer"
NAME="autopilot-extension"
ARCHS=("$@")
[ ${#ARCHS[@]} -gt 0 ] || ARCHS=(x86_64 arm64)

say() { echo "build-layer: $*" >&2; }

if [ ! -x "$VENV/bin/cargo-lambda" ] || [ ! -x "$VENV/bin/python-zig" ]; then
  say "installing cargo-lambda and ziglang into .venv/build"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet cargo-lambda ziglang
fi
export PATH="$VENV/bin:$PATH"

mkdir -p "$OUT"
for arch in "${ARCHS[@]}"; do
  case "$arch" in
    x86_64) triple=x86_64-unknown-linux-musl ;;
    arm64) triple=aarch64-unknown-linux-musl ;;
    *) say "unknown architecture $arch (x86_64 or arm64)"; exit 2 ;;
  esac
  rustup target list --installed | grep -qx "$triple" || rustup target add "$triple"
  say "building $arch ($triple)"
  (cd "$ROOT" && cargo lambda build --release --extension --package "$NAME" --target "$triple" >&2)
  # cargo-lambda moves the binary here (one architecture at a time).
  bin="$ROOT/target/lambda/extensions/$NAME"
  stage="$OUT/stage-$arch"
  rm -rf "$stage" && mkdir -p "$stage/extensions"
  install -m 0755 "$bin" "$stage/extensions/$NAME"
  zip_path="$OUT/$NAME-$arch.zip"
  rm -f "$zip_path"
  # Fixed timestamps so the same binary gives the same zip.
  touch -d '2000-01-01 00:00:00' "$stage/extensions" "$stage/extensions/$NAME"
  (cd "$stage" && zip -q -X -9 -r "$zip_path" extensions)
  printf '%s\t%s\tbinary_bytes=%s\tzip_bytes=%s\n' "$arch" "$zip_path" \
    "$(stat -c %s "$stage/extensions/$NAME")" "$(stat -c %s "$zip_path")"
done
