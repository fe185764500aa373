#!/usr/bin/env bash
# The README's main-job command: install what is missing, then run the demo
# (a local registry and Sigstore stand-in, a sample image published and
# signed, and every command exercised against it).
set -euo pipefail
# shellcheck source=install_deps.sh
source "$(dirname "${BASH_SOURCE[0]}")/install_deps.sh"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec deno task demo "$@"
