#!/usr/bin/env bash
# Offline validation of the deployable stack: the SAM template and every state machine.
#
#   bash scripts/validate.sh           # install the validators if needed, then run them
#   bash scripts/validate.sh setup     # install only
#
# Validators (pinned; installed on first use, reused while the pins are unchanged):
#   cfn-lint sam-template.yaml                      PyPI, into .venv/validate
#   sam validate --lint                             PyPI aws-sam-cli, same venv
#   asl-validator --json-path statemachines/*.json  npm, into .tools/node
# Works with CI=true and no stdin; needs python3 (3.9+) with venv, node and npm. Talks to no
# AWS endpoint: a region is set for `sam validate` and dummy credentials keep it local.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv/validate"
NODE_PREFIX="$ROOT/.tools/node"

# Pins. aws-sam-cli 1.170.0 itself requires cfn-lint 1.58.0 (its `--lint`), so one venv holds both.
AWS_SAM_CLI_VERSION="1.170.0"
CFN_LINT_VERSION="1.58.0"
ASL_VALIDATOR_VERSION="4.0.0"

say() { echo "validate: $*" >&2; }
die() { say "error: $*"; exit 1; }

setup_python() {
  local want marker="$VENV/.pins"
  want="aws-sam-cli==$AWS_SAM_CLI_VERSION cfn-lint==$CFN_LINT_VERSION $(python3 -c 'import sys; print(sys.version.split()[0])')"
  if [[ -x "$VENV/bin/sam" && -x "$VENV/bin/cfn-lint" && -f "$marker" && "$(cat "$marker")" == "$want" ]]; then
    return 0
  fi
  say "installing aws-sam-cli $AWS_SAM_CLI_VERSION and cfn-lint $CFN_LINT_VERSION into .venv/validate"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-input --no-compile \
    "aws-sam-cli==$AWS_SAM_CLI_VERSION" "cfn-lint==$CFN_LINT_VERSION" >&2
  echo "$want" >"$marker"
}

setup_node() {
  local bin="$NODE_PREFIX/node_modules/.bin/asl-validator" installed=""
  if [[ -x "$bin" ]]; then
    installed="$(cd "$NODE_PREFIX" && node -p 'require("asl-validator/package.json").version' 2>/dev/null || true)"
  fi
  [[ "$installed" == "$ASL_VALIDATOR_VERSION" ]] && return 0
  command -v npm >/dev/null || die "npm not found (asl-validator is an npm package)"
  say "installing asl-validator $ASL_VALIDATOR_VERSION into .tools/node"
  mkdir -p "$NODE_PREFIX"
  npm install --prefix "$NODE_PREFIX" --no-audit --no-fund --silent --no-save \
    "asl-validator@$ASL_VALIDATOR_VERSION" >&2
}

run_validators() {
  cd "$ROOT"
  export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" AWS_REGION="${AWS_REGION:-us-east-1}"
  # `sam` must not look for real credentials, telemetry or updates.
  export AWS_ACCESS_KEY_ID=validate AWS_SECRET_ACCESS_KEY=validate SAM_CLI_TELEMETRY=0
  unset AWS_SESSION_TOKEN AWS_PROFILE

  say "cfn-lint $("$VENV/bin/cfn-lint" --version | awk '{print $2}') sam-template.yaml"
  "$VENV/bin/cfn-lint" sam-template.yaml
  say "sam validate --lint ($("$VENV/bin/sam" --version))"
  "$VENV/bin/sam" validate --lint --template-file sam-template.yaml
  local f n=0
  for f in statemachines/*.asl.json; do
    say "asl-validator $ASL_VALIDATOR_VERSION $f"
    "$NODE_PREFIX/node_modules/.bin/asl-validator" --json-path "$f"
    n=$((n + 1))
  done
  ((n > 0)) || die "no statemachines/*.asl.json found"
  say "ok: template and $n state machines valid"
}

setup_python
setup_node
[[ "${1:-}" == "setup" ]] || run_validators
