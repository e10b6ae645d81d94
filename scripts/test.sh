#!/usr/bin/env bash
# The whole test suite, from a fresh clone: validates the deployable stack offline
# (cfn-lint, sam validate --lint, asl-validator; installed under .venv/ and .tools/ on first
# use), sets up and starts the local AWS emulator (moto server + the project's bridges, in a
# venv under .venv/), runs every Rust test and the emulator's own self-test, and stops the
# emulator again.
#
#   bash scripts/test.sh              # everything
#   bash scripts/test.sh -p autopilot-core   # extra arguments go to the test runner
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bash scripts/validate.sh

bash scripts/local-aws.sh start >/dev/null
trap 'bash scripts/local-aws.sh stop >/dev/null 2>&1 || true' EXIT
AWS_ENDPOINT_URL=$(cat .local-aws/endpoint)
export AWS_ENDPOINT_URL
# Dummy credentials and a region: the emulator accepts any, and no test may reach real AWS.
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
echo "local AWS emulator at $AWS_ENDPOINT_URL"

bash scripts/local-aws.sh selftest

# Libraries, binaries and tests, not benches: the extension's bench measures a release build
# (extension/bench.sh) and needs its binary; .ci/run's clippy checks it.
targets=(--lib --bins --tests)
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace "${targets[@]}" --no-fail-fast "$@"
  cargo test --workspace --doc "$@"
else
  cargo test --workspace "${targets[@]}" --no-fail-fast "$@"
  cargo test --workspace --doc "$@"
fi
