#!/usr/bin/env bash
# Install what dangerzone-image's demo and tests need on a Debian machine
# with node/npm: Deno (from npm, deno@2) and the Debian packages of the real
# components the tests run (docker-registry, podman, skopeo, umoci,
# softhsm2, apache2-utils, docker.io for dockerd). Installs only what is missing.
set -euo pipefail

log() { printf '==> %s\n' "$*" >&2; }

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=(sudo -n); else
    log "warning: not root and no sudo; package installs will likely fail"
  fi
fi

# --- Deno -------------------------------------------------------------------
if ! command -v deno >/dev/null 2>&1; then
  log "deno not found: installing deno@2 from npm"
  npm install -g deno@2 </dev/null
  PATH="$(npm prefix -g)/bin:$PATH"
  export PATH
  hash -r
fi
deno --version

# --- Debian packages ----------------------------------------------------------
# package name -> a command it provides (both are checked).
declare -A PKG_CMD=(
  [docker-registry]=docker-registry
  [podman]=podman
  [skopeo]=skopeo
  [umoci]=umoci
  [softhsm2]=softhsm2-util
  [apache2-utils]=htpasswd
  [docker.io]=dockerd
  [tmux]=tmux
)
missing=()
for pkg in docker-registry podman skopeo umoci softhsm2 apache2-utils docker.io tmux; do
  if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' &&
    command -v "${PKG_CMD[$pkg]}" >/dev/null 2>&1; then
    continue
  fi
  missing+=("$pkg")
done
if ((${#missing[@]} > 0)); then
  log "installing Debian packages: ${missing[*]}"
  "${SUDO[@]}" apt-get update </dev/null
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
else
  log "Debian packages already present"
fi

