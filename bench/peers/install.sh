#!/usr/bin/env bash
# bench/peers/install.sh - install what the peer harness and the bench/ scripts need (Debian 12).
#
#   apt-get update
#   apt-get install -y nginx apache2 libapache2-mod-auth-openidc wrk libnginx-mod-http-echo \
#                      curl valgrind postgresql nghttp2-client
#   pip install 'oidc-provider-mock==0.3.4' authlib==1.9.9 requests
#
# nginx, apache2 + mod_auth_openidc, wrk, curl and the Python packages are the harness's
# (peers.sh, login.py); libnginx-mod-http-echo is optional for it (full /headers echo);
# valgrind is for bench/instructions.sh, postgresql for bench/auth.sh's postgres variant,
# nghttp2-client (h2load) for bench/tls.sh's HTTP/2 rows.
#
# Idempotent: a Debian package that is already installed and Python packages already at these
# versions are left alone, and when nothing is missing nothing is run (not even apt-get update).
# The Debian packages' own services are not used by the harness: while apt installs, service
# start-ups are suppressed with a temporary /usr/sbin/policy-rc.d (only when there is none
# already; an existing one is left as it is), so no nginx/Apache/PostgreSQL daemon is left
# running on :80 or :5432.
#
# usage: bench/peers/install.sh            (as root, or a user with sudo)
# environment (defaults in brackets):
#   PYTHON [python3]  the interpreter whose pip gets the Python packages (the one peers.sh uses)
#   FORCE [0]         1 = run apt-get update/install and pip install even if nothing is missing
set -euo pipefail

APT_PACKAGES=(nginx apache2 libapache2-mod-auth-openidc wrk libnginx-mod-http-echo curl valgrind postgresql nghttp2-client)
PIP_PACKAGES=('oidc-provider-mock==0.3.4' 'authlib==1.9.9' 'requests')
PY=${PYTHON:-python3}
FORCE=${FORCE:-0}

log() { printf '[install %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || die "not root and no sudo: run this as root"
    SUDO=(sudo)
fi
command -v apt-get >/dev/null && command -v dpkg-query >/dev/null || die "apt-get/dpkg-query not found (this script is for Debian 12)"
command -v "$PY" >/dev/null || die "$PY not found (set PYTHON, or apt-get install python3)"

# ------------------------------------------------------------------ Debian packages
deb_installed() { [[ $(dpkg-query -W -f '${Status}' "$1" 2>/dev/null) == "install ok installed" ]]; }

missing=()
for p in "${APT_PACKAGES[@]}"; do deb_installed "$p" || missing+=("$p"); done
# a Debian python3 without pip: its pip comes from python3-pip
"$PY" -m pip --version >/dev/null 2>&1 || { deb_installed python3-pip || missing+=(python3-pip); }

POLICY=/usr/sbin/policy-rc.d
OUR_POLICY=0
remove_policy() {
    if [[ $OUR_POLICY == 1 ]]; then "${SUDO[@]}" rm -f "$POLICY"; OUR_POLICY=0; fi
}
trap remove_policy EXIT

if [[ ${#missing[@]} -gt 0 || $FORCE == 1 ]]; then
    [[ ${#missing[@]} -gt 0 ]] && log "missing Debian packages: ${missing[*]}"
    if [[ ! -e $POLICY ]]; then     # keep apt from starting the packages' own services
        printf '#!/bin/sh\n# temporary, from bench/peers/install.sh\nexit 101\n' | "${SUDO[@]}" tee "$POLICY" >/dev/null
        "${SUDO[@]}" chmod 755 "$POLICY"
        OUR_POLICY=1
    fi
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
    # installing the full list again is a no-op for what is there already
    to_install=("${APT_PACKAGES[@]}")
    for p in "${missing[@]}"; do [[ $p == python3-pip ]] && to_install+=(python3-pip); done
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${to_install[@]}"
    remove_policy
else
    log "Debian packages: all installed (${APT_PACKAGES[*]})"
fi

# ------------------------------------------------------------------ Python packages
py_ok() {
    "$PY" - <<'PY' 2>/dev/null
import importlib.metadata as m, sys
want = {"oidc-provider-mock": "0.3.4", "authlib": "1.9.9", "requests": None}
for name, version in want.items():
    try:
        have = m.version(name)
    except m.PackageNotFoundError:
        sys.exit(1)
    if version is not None and have != version:
        sys.exit(1)
import oidc_provider_mock, authlib, requests  # noqa: E401,F401  (importable, not just listed)
PY
}

if py_ok && [[ $FORCE != 1 ]]; then
    log "Python packages: already installed for $PY (${PIP_PACKAGES[*]})"
else
    pip_args=()
    # a Debian-managed interpreter (PEP 668) refuses pip installs outside a virtualenv
    if "$PY" -c 'import os, sys, sysconfig; sys.exit(0 if sys.prefix == sys.base_prefix and os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")) else 1)'; then
        pip_args+=(--break-system-packages)
    fi
    pip_sudo=()
    [[ -w $("$PY" -c 'import sysconfig; print(sysconfig.get_path("purelib"))') ]] || pip_sudo=("${SUDO[@]}")
    log "pip install ${PIP_PACKAGES[*]} (for $(command -v "$PY"))"
    "${pip_sudo[@]}" "$PY" -m pip install "${pip_args[@]}" "${PIP_PACKAGES[@]}"
    py_ok || die "$PY still lacks oidc-provider-mock 0.3.4 / authlib 1.9.9 / requests after pip install"
fi

# ------------------------------------------------------------------ summary
for c in nginx apache2 wrk curl valgrind; do
    command -v "$c" >/dev/null || die "$c is still missing"
done
[[ -f /usr/lib/apache2/modules/mod_auth_openidc.so ]] || die "mod_auth_openidc.so is still missing"
log "ready: nginx $(nginx -v 2>&1 | cut -d/ -f2), $(apache2 -v | head -1 | cut -d: -f2- | sed 's/^ *//'), mod_auth_openidc $(dpkg-query -W -f '${Version}' libapache2-mod-auth-openidc), wrk $(dpkg-query -W -f '${Version}' wrk), oidc-provider-mock $("$PY" -c 'import importlib.metadata as m; print(m.version("oidc-provider-mock"))')"
