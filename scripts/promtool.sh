#!/usr/bin/env bash
# Runs promtool (Prometheus 2.42 from Debian's package, extracted into the tools cache on first
# use: `apt-get download` needs no root and starts no service). Arguments go to promtool.
#   bash scripts/promtool.sh check rules deploy/prometheus/rules.yml
set -euo pipefail
version=2.42.0
tools="${VMFLOW_TOOLS_DIR:-$HOME/.cache/vmflow/tools}"
dir="$tools/promtool-$version"
if [ -n "${PROMTOOL:-}" ]; then exec "$PROMTOOL" "$@"; fi
if command -v promtool >/dev/null 2>&1; then exec promtool "$@"; fi
if [ ! -x "$dir/promtool" ]; then
  mkdir -p "$tools"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  printf '[promtool] fetching Debian package prometheus %s into %s…\n' "$version" "$dir" >&2
  (cd "$tmp" && apt-get download "prometheus=$version*" >&2 2>/dev/null || apt-get download prometheus >&2)
  dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x"
  mkdir -p "$dir"
  install -m 0755 "$tmp/x/usr/bin/promtool" "$dir/promtool"
fi
exec "$dir/promtool" "$@"
