# Installs the official command-line clients into the per-user tools cache, keyed by version, and
# sets OPENSTACK_CLI, CMK_CLI and CMK_KIND (go | python). Sourced by scripts/compat.sh after
# `set -euo pipefail`; progress goes to stderr. Idempotent: a finished install leaves a `.complete`
# marker, an interrupted one is removed and redone. One installer at a time (flock on the cache).
#
#   OpenStack  python-openstackclient + python-heatclient in a venv (PyPI);
#   CloudStack CloudMonkey built with `go install` (Go module proxy). When the proxy will not serve
#              it, the legacy Python CloudMonkey from PyPI is used if a Python 2.7 is on the
#              machine, and the run says so. CMK_BIN=/path/to/cloudstack-cloudmonkey uses a cmk
#              you already have.

compat_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$compat_dir/versions.env"
tools="${VMFLOW_TOOLS_DIR:-$HOME/.cache/vmflow/tools}"
say() { printf '[compat] %s\n' "$*" >&2; }
die() { printf '[compat] ERROR: %s\n' "$*" >&2; exit 1; }

mkdir -p "$tools"
exec 8>"$tools/.lock"
flock 8

# ---- OpenStack CLI -----------------------------------------------------------------------------
install_openstack_cli() {
  local py="${COMPAT_PYTHON:-python3}"
  command -v "$py" >/dev/null 2>&1 || die "python3 (3.10 or newer) is needed for python-openstackclient"
  local pyver
  pyver="$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
    || die "python-openstackclient $OPENSTACKCLIENT_VERSION needs Python 3.10 or newer ($py is $pyver); set COMPAT_PYTHON"
  local venv="$tools/openstackclient-$OPENSTACKCLIENT_VERSION-heatclient-$HEATCLIENT_VERSION-py$pyver"
  OPENSTACK_CLI="$venv/bin/openstack"
  if [ -f "$venv/.complete" ] && [ -x "$OPENSTACK_CLI" ]; then
    say "python-openstackclient $OPENSTACKCLIENT_VERSION + python-heatclient $HEATCLIENT_VERSION: cached in $venv"
    return
  fi
  # A venv cannot be moved (its scripts name their interpreter by path), so it is built in place.
  rm -rf "$venv"
  say "installing python-openstackclient $OPENSTACKCLIENT_VERSION + python-heatclient $HEATCLIENT_VERSION (Python $pyver venv, first run only)…"
  local start=$SECONDS
  "$py" -m venv "$venv" || { rm -rf "$venv"; die "could not create a venv with $py (is the venv module installed?)"; }
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    "python-openstackclient==$OPENSTACKCLIENT_VERSION" "python-heatclient==$HEATCLIENT_VERSION" >&2 \
    || { rm -rf "$venv"; die "pip install of the OpenStack clients failed (is PyPI reachable?)"; }
  "$OPENSTACK_CLI" --version >/dev/null 2>&1 || { rm -rf "$venv"; die "the installed openstack CLI does not run"; }
  touch "$venv/.complete"
  say "OpenStack CLI ready in $((SECONDS - start))s: $OPENSTACK_CLI"
}

# ---- CloudMonkey -------------------------------------------------------------------------------
install_go_cmk() {
  local dir="$tools/cmk-$CMK_VERSION"
  CMK_CLI="$dir/cloudstack-cloudmonkey"
  if [ -x "$CMK_CLI" ]; then
    say "CloudMonkey $CMK_VERSION: cached in $dir"
    return 0
  fi
  command -v go >/dev/null 2>&1 || { say "Go is not installed; cannot build CloudMonkey $CMK_VERSION"; return 1; }
  say "building CloudMonkey $CMK_VERSION with go install (until it succeeds once)…"
  local start=$SECONDS tmp log
  tmp="$(mktemp -d "$tools/.cmk.XXXXXX")"
  log="$tmp/go-install.log"
  if ! GOBIN="$tmp" GOFLAGS=-mod=mod go install "github.com/apache/cloudstack-cloudmonkey@$CMK_VERSION" >"$log" 2>&1; then
    sed 's/^/[compat]   /' "$log" | head -5 >&2
    rm -rf "$tmp"
    return 1
  fi
  mkdir -p "$dir" && mv "$tmp/cloudstack-cloudmonkey" "$CMK_CLI" && rm -rf "$tmp"
  say "CloudMonkey ready in $((SECONDS - start))s: $CMK_CLI"
}

find_python27() {
  local p
  for p in python2.7 python2; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (2, 7) else 1)' 2>/dev/null; then
      command -v "$p"
      return 0
    fi
  done
  if command -v pyenv >/dev/null 2>&1; then
    local root v
    root="$(pyenv root)"
    v="$(pyenv versions --bare 2>/dev/null | grep -E '^2\.7(\.[0-9]+)?$' | sort -V | tail -1 || true)"
    if [ -n "$v" ] && [ -x "$root/versions/$v/bin/python2.7" ]; then
      echo "$root/versions/$v/bin/python2.7"
      return 0
    fi
  fi
  return 1
}

install_python_cmk() {
  local dir="$tools/cloudmonkey-py-$CLOUDMONKEY_PY_VERSION"
  CMK_CLI="$dir/cmk"
  if [ -f "$dir/.complete" ] && [ -x "$CMK_CLI" ]; then
    say "legacy Python CloudMonkey $CLOUDMONKEY_PY_VERSION: cached in $dir"
    return 0
  fi
  local py
  py="$(find_python27)" || { say "no Python 2.7 found for the legacy Python CloudMonkey"; return 1; }
  rm -rf "$dir"
  say "installing the legacy Python CloudMonkey $CLOUDMONKEY_PY_VERSION with $py (first run only)…"
  local start=$SECONDS
  "$py" -m pip install --quiet --disable-pip-version-check --no-warn-script-location --no-input \
    --prefix "$dir" -c "$compat_dir/cloudmonkey-py2-constraints.txt" "cloudmonkey==$CLOUDMONKEY_PY_VERSION" 2>&1 \
    | grep -v -i 'deprecation' >&2 || true
  local site="$dir/lib/python2.7/site-packages"
  [ -x "$dir/bin/cloudmonkey" ] || { rm -rf "$dir"; say "pip install of cloudmonkey $CLOUDMONKEY_PY_VERSION failed"; return 1; }
  # --prefix installs need their site-packages on the path; the wrapper keeps the tool relocatable.
  cat >"$CMK_CLI" <<WRAP
#!/usr/bin/env bash
export PYTHONPATH="$site\${PYTHONPATH:+:\$PYTHONPATH}"
exec "$py" "$dir/bin/cloudmonkey" "\$@"
WRAP
  chmod +x "$CMK_CLI"
  "$CMK_CLI" --version >/dev/null 2>&1 || { rm -rf "$dir"; say "the installed cloudmonkey does not run"; return 1; }
  touch "$dir/.complete"
  say "legacy Python CloudMonkey ready in $((SECONDS - start))s: $CMK_CLI"
}

install_cmk() {
  if [ -n "${CMK_BIN:-}" ]; then
    [ -x "$CMK_BIN" ] || die "CMK_BIN=$CMK_BIN is not an executable file"
    CMK_CLI="$CMK_BIN"
    CMK_KIND=go
    say "CloudMonkey: using CMK_BIN=$CMK_BIN"
    return
  fi
  if install_go_cmk; then
    CMK_KIND=go
    return
  fi
  say "WARNING: could not build CloudMonkey $CMK_VERSION from the Go module proxy (see above)."
  if install_python_cmk; then
    CMK_KIND=python
    say "WARNING: running the CloudStack checks with the legacy Python CloudMonkey $CLOUDMONKEY_PY_VERSION instead"
    say "         (set CMK_BIN=/path/to/cloudstack-cloudmonkey to use a cmk you have)."
    return
  fi
  die "no CloudMonkey available: the Go build failed and no legacy Python CloudMonkey could be installed.
  Set CMK_BIN=/path/to/cloudstack-cloudmonkey (a cmk binary you have) or make the Go module proxy reachable."
}

install_openstack_cli
install_cmk
exec 8>&-
