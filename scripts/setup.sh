#!/usr/bin/env bash
# Installs what `npm start`, `npm test` and `npm run bench` need, idempotently:
#   1. npm packages (npm ci when node_modules is missing or older than package-lock.json);
#   2. the Temporal CLI (dev server + Web UI), built with `go install` into the per-user tools cache;
#   3. FerretDB with its SQLite backend, built from scripts/ferretdb into the same cache;
#   5. with --test: a headless Chromium for the web console's browser test (Debian's `chromium`: installed with
#      apt-get when missing and we are root, else the command that installs it is printed; VMFLOW_CHROMIUM_PATH
#      names another binary, VMFLOW_NO_APT=1 keeps setup away from system packages).
#   4. with --test (npm test) or --test-server-only (npm run test:unit, which skips 2 and 3): Temporal's time-skipping test server, the Java library from Maven
#      Central with a small launcher that binds it to 127.0.0.1 (test/harness/time-skipping),
#      compiled with javac into the same cache. Needs Java 11+ (java, javac) and Maven.
# The cache lives outside the work tree (VMFLOW_TOOLS_DIR, default ~/.cache/vmflow/tools) and is keyed
# by version, so every clone and every CI run on this machine reuses one build.
# TEMPORAL_ADDRESS / MONGODB_URI skip a server entirely; TEMPORAL_CLI_PATH uses a binary you have.
set -euo pipefail

with_test_server=false
servers=true
for arg in "$@"; do
  case "$arg" in
    --test) with_test_server=true ;;
    --test-server-only) with_test_server=true; servers=false ;;   # npm run test:unit: no Temporal CLI or FerretDB
    *) printf '[setup] ERROR: unknown argument %s (known: --test, --test-server-only)\n' "$arg" >&2; exit 2 ;;
  esac
done

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
if [ "$servers" != true ]; then
  :
elif [ -n "${TEMPORAL_CLI_PATH:-}" ]; then
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
if [ "$servers" = true ] && [ -z "${MONGODB_URI:-}" ] && [ ! -x "$ferret_bin" ]; then
  need_go "FerretDB v$FERRETDB_VERSION"
  say "building FerretDB v$FERRETDB_VERSION (SQLite backend) from scripts/ferretdb (first run only)…"
  start=$(date +%s)
  mkdir -p "$(dirname "$ferret_bin")"
  (cd "$here/ferretdb" && GOFLAGS=-mod=mod go build -trimpath -o "$ferret_bin.tmp" .) >&2 \
    || { rm -f "$ferret_bin.tmp"; die "building FerretDB failed (is the Go module proxy reachable?)"; }
  mv "$ferret_bin.tmp" "$ferret_bin"
  say "FerretDB ready in $(( $(date +%s) - start ))s: $ferret_bin"
fi

# ---- 4. Time-skipping test server (npm test only) --------------------------------------------
# The SDK's TestWorkflowEnvironment.createTimeSkipping() would download this server from the
# internet; the same server is a Java library on Maven Central. Maven puts the jars in ~/.m2; the
# launcher class, its classpath and a wrapper script go into the cache, keyed by version and by
# the launcher's source (src/tools.ts computes the same path).
if [ "$with_test_server" = true ]; then
  tts_src="$root/test/harness/time-skipping"
  tts_hash="$(cat "$tts_src/LoopbackTestServer.java" "$tts_src/pom.xml" | sha256sum | cut -c1-12)"
  tts_home="$tools/temporal-test-server-$TEMPORAL_TEST_SERVER_VERSION-$tts_hash"
  if [ ! -x "$tts_home/test-server" ]; then
    missing=""
    for cmd in java javac mvn; do command -v "$cmd" >/dev/null 2>&1 || missing="$missing $cmd"; done
    [ -z "$missing" ] || die "npm test needs Java 11 or newer (a JDK: java and javac) and Maven for the time-skipping workflow tests; missing:$missing.
  Install them, e.g. 'apt-get install openjdk-17-jdk-headless maven' (Debian/Ubuntu) or 'brew install openjdk maven'.
  Maven downloads io.temporal:temporal-test-server:$TEMPORAL_TEST_SERVER_VERSION from Maven Central into ~/.m2 (once)."
    say "fetching Temporal's time-skipping test server $TEMPORAL_TEST_SERVER_VERSION with Maven and compiling its loopback launcher (first run only)…"
    start=$(date +%s)
    tmp="$(mktemp -d "$tools/.tts.XXXXXX")"
    (cd "$tmp" && mvn -q -B -Dstyle.color=never -f "$tts_src/pom.xml" -Dtts.version="$TEMPORAL_TEST_SERVER_VERSION" dependency:build-classpath -Dmdep.outputFile="$tmp/classpath.txt") >"$tmp/mvn.log" 2>&1 \
      || { cat "$tmp/mvn.log" >&2; rm -rf "$tmp"; die "Maven could not fetch io.temporal:temporal-test-server:$TEMPORAL_TEST_SERVER_VERSION (is Maven Central reachable? see ~/.m2/settings.xml for a mirror)"; }
    javac -nowarn -d "$tmp/classes" -cp "$(cat "$tmp/classpath.txt")" "$tts_src/LoopbackTestServer.java" >&2 \
      || { rm -rf "$tmp"; die "javac could not compile test/harness/time-skipping/LoopbackTestServer.java"; }
    java_bin="$(command -v java)"
    # The SDK runs this with `<port>` (and flags); a small heap and one GC thread: 2 cores are shared.
    cat >"$tmp/test-server" <<WRAPPER
#!/bin/sh
exec "$java_bin" -XX:+UseSerialGC -Xms32m -Xmx256m -XX:TieredStopAtLevel=1 -cp "$tts_home/classes:$(cat "$tmp/classpath.txt")" LoopbackTestServer "\$@"
WRAPPER
    chmod +x "$tmp/test-server"
    rm -rf "$tts_home" && mv "$tmp" "$tts_home"
    say "time-skipping test server ready in $(( $(date +%s) - start ))s: $tts_home/test-server"
  fi
fi

# ---- 5. Chromium for the web console's browser test (npm test only) -----------------------------
# playwright-core drives the machine's Chromium (Playwright's own browser download is not used);
# test/harness/browser.ts finds it the same way.
if [ "$with_test_server" = true ] && [ "$servers" = true ]; then
  find_chromium() { printf '%s' "${VMFLOW_CHROMIUM_PATH:-$(command -v chromium || command -v chromium-browser || true)}"; }
  chromium_bin="$(find_chromium)"
  # A fresh Debian machine where we are root (CI's clean machine): install Debian's Chromium (and a
  # Korean font for the screenshots) from the package registry once, instead of failing the run.
  # VMFLOW_NO_APT=1 keeps setup from touching system packages.
  if [ -z "$chromium_bin" ] && [ -z "${VMFLOW_NO_APT:-}" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's chromium and fonts-nanum with apt-get (first run on this machine only)…"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-nanum; } >"$tools/apt-chromium.log" 2>&1 \
      || say "apt-get could not install chromium (see $tools/apt-chromium.log)"
    chromium_bin="$(find_chromium)"
  fi
  [ -n "$chromium_bin" ] && [ -x "$chromium_bin" ] || die "npm test drives a headless Chromium for the web console's browser test (test/integration/web-console.test.ts), and none was found.
  Install Debian's: 'apt-get update && apt-get install -y chromium' (Ubuntu: a chromium that is not a snap, e.g. from Debian),
  or set VMFLOW_CHROMIUM_PATH=/path/to/chromium (any Chromium or Chrome 120 or newer)."
  # Not needed for the test to pass (it reads the page's text), only for Korean screenshots a person can read.
  if command -v fc-list >/dev/null 2>&1 && [ -z "$(fc-list :lang=ko 2>/dev/null | head -1)" ]; then
    say "note: no Korean font found; the browser test's Korean screenshots will show boxes ('apt-get install -y fonts-nanum' fixes that)"
  fi
fi
