#!/usr/bin/env bash
# Installs what `npm start`, `npm test` and `npm run bench` need, idempotently:
#   1. npm packages (npm ci when node_modules is missing or older than package-lock.json);
#   2. the Temporal CLI (dev server + Web UI), built with `go install` into the per-user tools cache;
#   3. FerretDB with its SQLite backend, built from scripts/ferretdb into the same cache.
# The cache lives outside the work tree (VMFLOW_TOOLS_DIR, default ~/.cache/vmflow/tools) and is keyed
# by version, so every clone and every CI run on this machine reuses one build.
# TEMPORAL_ADDRESS / MONGODB_URI skip a server entirely; TEMPORAL_CLI_PATH uses a binary you have.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=tools.env
source "$here/tools.env"
tools="${VMFLOW_TOOLS_DIR:-$HOME/.cache/vmflow/tools}"
say() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# ---- 1. npm packages -------------------------------------------------------------------------
cd "$root"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages (npm ci)…"
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

mkdir -p "$tools"
exec 9>"$tools/.lock"
flock 9   # one build at a time when several clones or test runs start together

need_go() {
  command -v go >/dev/null 2>&1 && return 0
  die "Go (1.22 or newer) is needed to build $1 into $tools.
  Install Go (https://go.dev/doc/install, or 'apt-get install golang-go'), or point vmflow at servers you already run:
    TEMPORAL_ADDRESS=host:7233   (an existing Temporal; no dev server is started)
    TEMPORAL_CLI_PATH=/path/to/temporal   (a temporal CLI binary you have)
    MONGODB_URI=mongodb://host:27017/vmflow   (an existing MongoDB; no FerretDB is started)"
}

# ---- 2. Temporal CLI -------------------------------------------------------------------------
temporal_bin="$tools/temporal-$TEMPORAL_CLI_VERSION/temporal"
if [ -n "${TEMPORAL_CLI_PATH:-}" ]; then
  [ -x "$TEMPORAL_CLI_PATH" ] || die "TEMPORAL_CLI_PATH=$TEMPORAL_CLI_PATH is not an executable file"
elif [ -z "${TEMPORAL_ADDRESS:-}" ] && [ ! -x "$temporal_bin" ]; then
  need_go "the Temporal CLI v$TEMPORAL_CLI_VERSION"
  say "building Temporal CLI v$TEMPORAL_CLI_VERSION with go install (first run only; several minutes on 2 cores)…"
  tmp="$(mktemp -d "$tools/.temporal.XXXXXX")"
  start=$(date +%s)
  GOBIN="$tmp" GOFLAGS=-mod=mod go install "github.com/temporalio/cli/cmd/temporal@v$TEMPORAL_CLI_VERSION" >&2 \
    || { rm -rf "$tmp"; die "go install of the Temporal CLI failed (is the Go module proxy reachable?)"; }
  mkdir -p "$(dirname "$temporal_bin")" && mv "$tmp/temporal" "$temporal_bin" && rm -rf "$tmp"
  say "Temporal CLI ready in $(( $(date +%s) - start ))s: $temporal_bin"
fi

# ---- 3. FerretDB -----------------------------------------------------------------------------
# Keyed by version and by the wrapper's source, so a change to scripts/ferretdb rebuilds it.
src_hash="$(cat "$here/ferretdb/main.go" "$here/ferretdb/go.mod" "$here/ferretdb/go.sum" | sha256sum | cut -c1-12)"
ferret_bin="$tools/ferretdb-$FERRETDB_VERSION-$src_hash/ferretdb"
if [ -z "${MONGODB_URI:-}" ] && [ ! -x "$ferret_bin" ]; then
  need_go "FerretDB v$FERRETDB_VERSION"
  say "building FerretDB v$FERRETDB_VERSION (SQLite backend) from scripts/ferretdb (first run only)…"
  start=$(date +%s)
  mkdir -p "$(dirname "$ferret_bin")"
  (cd "$here/ferretdb" && GOFLAGS=-mod=mod go build -trimpath -o "$ferret_bin.tmp" .) >&2 \
    || { rm -f "$ferret_bin.tmp"; die "building FerretDB failed (is the Go module proxy reachable?)"; }
  mv "$ferret_bin.tmp" "$ferret_bin"
  say "FerretDB ready in $(( $(date +%s) - start ))s: $ferret_bin"
fi
