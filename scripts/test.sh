#!/usr/bin/env bash
# The README's test command (and what .ci/run runs): on a clean Debian machine with node/npm (as root, CI=true,
# no stdin, network only to npm + Debian mirrors) install what is missing,
# then run `deno task check`, `deno publish --dry-run` and `deno task test`.
#
# Last line printed: `tests: N passed, N failed, N skipped`.
# Exit status: deno test's status; non-zero as well if it ran no tests or if
# `deno task check` or `deno publish --dry-run` failed (tests still run so their output is
# available).
set -euo pipefail

log() { printf '==> %s\n' "$*" >&2; }

# shellcheck source=install_deps.sh
source "$(dirname "${BASH_SOURCE[0]}")/install_deps.sh"

# --- Check and test -----------------------------------------------------------
cd "$(dirname "${BASH_SOURCE[0]}")/.."

check_status=0
log "deno task check"
deno task check </dev/null || check_status=$?
if ((check_status != 0)); then
  log "deno task check FAILED (status $check_status); running the tests anyway"
fi

# The JSR package as it would be published (name, exports, licence, slow types); offline
# except the npm registry. --allow-dirty: what is checked is the package, not the git state.
publish_status=0
log "deno publish --dry-run"
deno publish --dry-run --allow-dirty </dev/null || publish_status=$?
if ((publish_status != 0)); then
  log "deno publish --dry-run FAILED (status $publish_status); running the tests anyway"
  ((check_status != 0)) || check_status=$publish_status
fi

out="$(mktemp -t dz-ci-test.XXXXXX)"
trap 'rm -f "$out"' EXIT

log "deno task test"
set +e
deno task test </dev/null 2>&1 | tee "$out"
test_status=${PIPESTATUS[0]}
set -e

# Deno's summary: `ok | 12 passed (3 steps) | 0 failed | 1 ignored (5s)`
# or `FAILED | 11 passed | 1 failed (5s)`; strip colours before parsing.
summary="$(sed 's/\x1b\[[0-9;]*m//g' "$out" | grep -E '^(ok|FAILED) \| [0-9]+ passed' | tail -n 1 || true)"
count() { grep -oE "[0-9]+ $1" <<<"$summary" | head -n 1 | grep -oE '^[0-9]+' || echo 0; }
passed=$(count passed)
failed=$(count failed)
ignored=$(count ignored)

no_tests=0
if [[ -z $summary ]] || ((passed + failed == 0)); then
  no_tests=1
  log "deno test ran no tests"
fi
if ((check_status != 0)); then
  log "note: deno task check or deno publish --dry-run failed (status $check_status)"
fi

# Must stay the last line of output.
echo "tests: ${passed} passed, ${failed} failed, ${ignored} skipped"

if ((test_status != 0)); then
  exit "$test_status"
fi
if ((no_tests)); then
  exit 1
fi
exit "$check_status"
