#!/usr/bin/env bash
# The extension benchmark: builds the release layer (x86_64), then replays the telemetry of
# 100,000 invocations against fake Lambda APIs and a fake DynamoDB on 127.0.0.1. Last line:
#   extension: zip_bytes=N rss_kb=N init_ms=X cpu_ms_per_1k=Y critical_path_us=Z
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/extension/build-layer.sh" x86_64 >&2
STAGE="$ROOT/target/layer/stage-x86_64"
export AUTOPILOT_EXTENSION_BIN="$STAGE/extensions/autopilot-extension"
export AUTOPILOT_EXTENSION_ZIP="$ROOT/target/layer/autopilot-extension-x86_64.zip"
cd "$ROOT"
cargo bench -p autopilot-extension --bench extension
