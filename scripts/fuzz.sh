#!/usr/bin/env bash
# `npm run fuzz`: proves "bad input gets a 4xx JSON error; user input never causes a 5xx" by
# fuzzing the REST API with Schemathesis against its own OpenAPI 3.1 document.
#   1. installs Schemathesis (pinned below) into a venv in the tools cache, once;
#   2. starts the product as `npm start` does (scripts/start.ts: Temporal, FerretDB, simulators,
#      image store, worker, API) on free 127.0.0.1 ports with a throw-away data dir, waits for
#      "[vmflow] ready", and stops it on exit whatever happens;
#   3. signs a member up, logs in, and seeds what the fuzzer cannot invent: an active OpenStack VM,
#      a second VM for the delete route, and an own cloud account. Their ids go into a dictionary
#      the path parameters draw from half of the time, so the fuzzer reaches the code behind the
#      404 (backup policy → Temporal schedule, DR, restore, …), not only the lookup;
#   4. runs `st run` on GET /api/v1/openapi.json with the bearer token (logout and withdraw are
#      left out there — either would end the session every other operation uses — and fuzzed
#      afterwards in a second run with a member of their own);
#   5. prints both runs' summaries and exits non-zero on any failed check.
#
# Checks: not_a_server_error (the point); negative_data_rejection (a request the document calls
# invalid — wrong type, missing field, unknown key, bad header — must get a 4xx); ignored_auth and
# missing_required_header (no or a broken token must get 401); status_code_conformance,
# content_type_conformance, response_schema_conformance and response_headers_conformance (every
# answer is one the document lists, with the body and headers it promises — an error without
# {error: {code, message, requestId}} fails); ensure_resource_availability (what a POST made can
# be read). Left out, each for a reason that holds for this API, not to hide findings:
#   positive_data_acceptance: a schema-valid body is often rightly refused — a catalog name that
#     does not exist (the catalog is configuration, not schema), a VM that is busy (409), pause
#     without a policy; the document says so in prose;
#   use_after_free: DELETE /vms/{id} is asynchronous and a deleted VM stays readable (state
#     "deleted", listed with includeDeleted=true), by design;
#   unsupported_method: an undocumented method answers 404 (Express), not 405.
# FUZZ_CHECKS=all (or any list) runs others for a look.
#
# FUZZ_MAX_EXAMPLES (default 100) bounds the test cases per operation and phase; FUZZ_SEED fixes
# the random seed (printed either way) to replay a run; FUZZ_KEEP=1 keeps the temp dir (product
# logs, Schemathesis reports) for a look afterwards.
set -euo pipefail

SCHEMATHESIS_VERSION=4.32.5

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
tools="${VMFLOW_TOOLS_DIR:-$HOME/.cache/vmflow/tools}"
max_examples="${FUZZ_MAX_EXAMPLES:-100}"
seed="${FUZZ_SEED:-$((RANDOM * 32768 + RANDOM))}"
say() { printf '[fuzz] %s\n' "$*" >&2; }
die() { printf '[fuzz] ERROR: %s\n' "$*" >&2; exit 1; }

# ---- 1. Schemathesis --------------------------------------------------------------------------
install_schemathesis() {
  local sys_py="${FUZZ_PYTHON:-python3}" pyver
  command -v "$sys_py" >/dev/null 2>&1 || die "python3 (3.10 or newer) is needed for Schemathesis"
  "$sys_py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
    || die "Schemathesis $SCHEMATHESIS_VERSION needs Python 3.10 or newer; set FUZZ_PYTHON"
  pyver="$("$sys_py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  venv="$tools/schemathesis-$SCHEMATHESIS_VERSION-py$pyver"
  st="$venv/bin/st"
  mkdir -p "$tools"
  exec 7>"$tools/.lock"
  flock 7
  if [ -f "$venv/.complete" ] && [ -x "$st" ]; then
    say "Schemathesis $SCHEMATHESIS_VERSION: cached in $venv"
  else
    # A venv cannot be moved (its scripts name their interpreter by path), so it is built in place.
    rm -rf "$venv"
    say "installing Schemathesis $SCHEMATHESIS_VERSION (Python $pyver venv, first run only)…"
    "$sys_py" -m venv "$venv" || { rm -rf "$venv"; die "could not create a venv with $sys_py (is the venv module installed?)"; }
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "schemathesis==$SCHEMATHESIS_VERSION" >&2 \
      || { rm -rf "$venv"; die "pip install of Schemathesis failed (is PyPI reachable?)"; }
    "$st" --version >/dev/null 2>&1 || { rm -rf "$venv"; die "the installed st does not run"; }
    touch "$venv/.complete"
  fi
  exec 7>&-
  py="$venv/bin/python"   # also reads the API's JSON answers below
}
install_schemathesis

# ---- 2. the product ---------------------------------------------------------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/vmflow-fuzz.XXXXXX")"
mkdir -p "$work/data" "$work/reports"
product_pid=''

stop_product() {
  [ -n "$product_pid" ] || return 0
  local i
  kill -TERM "$product_pid" 2>/dev/null || true
  for ((i = 0; i < 400; i++)); do kill -0 "$product_pid" 2>/dev/null || break; sleep 0.1; done
  # start.ts stops its children on SIGTERM; what outlives it is killed by process group.
  kill -KILL -- "-$product_pid" 2>/dev/null || true
  product_pid=''
}
cleanup() {
  stop_product
  if [ "${FUZZ_KEEP:-}" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Eight ports the kernel calls free now (bound together, so they differ, then released).
read -r api_port temporal_port ui_port ferret_port os_port cs_port store_port _ < <("$py" - <<'EOF'
import socket
socks = []
for _ in range(8):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
)
api="http://127.0.0.1:$api_port"
log="$work/start.log"
# The fuzzing member is made an operator (npm run operator -- grant), so the Temporal codec routes
# are fuzzed past their 403 too. Its CloudStack account points at a closed local port, allow-listed.
fuzz_user="fuzz-$RANDOM$RANDOM"
say "starting vmflow (API $api, data $work/data)…"
# setsid: the product gets its own process group, so a hung shutdown can still be ended whole.
(cd "$root" && exec setsid env API_PORT="$api_port" TEMPORAL_PORT="$temporal_port" TEMPORAL_UI_PORT="$ui_port" \
  FERRETDB_PORT="$ferret_port" OPENSTACK_SIM_PORT="$os_port" CLOUDSTACK_SIM_PORT="$cs_port" \
  IMAGE_STORE_PORT="$store_port" VMFLOW_DATA_DIR="$work/data" VMFLOW_OUTBOUND_ALLOW="http://127.0.0.1:9/client/api" \
  node --import tsx scripts/start.ts >"$log" 2>&1) &
product_pid=$!
started=$SECONDS
until grep -q '^\[vmflow\] ready' "$log"; do
  if ! kill -0 "$product_pid" 2>/dev/null || [ $((SECONDS - started)) -gt 300 ]; then
    tail -n 40 "$log" | sed 's/^/    /' >&2
    die "vmflow did not become ready (log above; data and logs in $work/data/logs with FUZZ_KEEP=1)"
  fi
  sleep 0.5
done
say "vmflow ready in $((SECONDS - started))s"

# ---- 3. a member and something to fuzz against ------------------------------------------------
# call <method> <path> [json body] [token]: prints the body; fails unless 2xx.
call() {
  local args=(-sS --fail-with-body -X "$1" "$api$2" -H 'content-type: application/json')
  [ -n "${3:-}" ] && args+=(--data "$3")
  [ -n "${4:-}" ] && args+=(-H "authorization: Bearer $4")
  curl "${args[@]}"
}
json() { "$py" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
# new_member <username>: signs up and logs in, prints the session token.
new_member() {
  local user="$1" password
  password="$("$py" -c 'import secrets; print("Fz-" + secrets.token_urlsafe(18))')"
  call POST /api/v1/auth/signup "{\"username\":\"$user\",\"password\":\"$password\"}" >/dev/null
  call POST /api/v1/auth/login "{\"username\":\"$user\",\"password\":\"$password\"}" | json "d['token']"
}
token="$(new_member "$fuzz_user")"
# Roles are granted from the operator's shell, against the database the product uses.
(cd "$root" && FERRETDB_PORT="$ferret_port" node --import tsx scripts/operator.ts grant "$fuzz_user" >/dev/null) \
  || die "could not grant the operator role to $fuzz_user"

create_vm() {
  call POST /api/v1/vms "{\"name\":\"$1\",\"os\":\"ubuntu-24.04\",\"software\":[\"vim\"],\"size\":\"small\",\"cloud\":\"openstack\"}" "$token" \
    | json "d['vm']['id']"
}
vm_id="$(create_vm fuzz-main)"
victim_id="$(create_vm fuzz-victim)"
account_id="$(call POST /api/v1/cloud-accounts \
  '{"kind":"cloudstack","name":"fuzz-cs","apiUrl":"http://127.0.0.1:9/client/api","apiKey":"fuzz-key","secretKey":"fuzz-secret"}' "$token" \
  | json "d['id']")"
say "waiting for VMs $vm_id and $victim_id to be active…"
for id in "$vm_id" "$victim_id"; do
  state=''
  for ((i = 0; i < 240; i++)); do
    state="$(call GET "/api/v1/vms/$id" '' "$token" | json "d['vm']['state']")"
    if [ "$state" = active ] || [ "$state" = failed ]; then break; fi
    sleep 0.5
  done
  [ "$state" = active ] || die "VM $id is $state, not active (log: $log)"
done

# ---- 4. Schemathesis --------------------------------------------------------------------------
cat >"$work/schemathesis.toml" <<EOF
# Written by scripts/fuzz.sh for one run.
request-timeout = 30.0

[generation]
# Path-only operations have few distinct inputs; no case is sent twice.
unique-inputs = true

[dictionaries.vms]
values = ["$vm_id"]
[dictionaries.victim]
values = ["$victim_id"]
[dictionaries.accounts]
values = ["$account_id", "operator-openstack", "operator-cloudstack"]
[dictionaries.workflows]
values = ["vm-create:$vm_id"]

# Path parameters draw from the seeded ids half of the time.
[[operations]]
include-path-regex = '^/api/v1/vms/\{id\}'
exclude-operation-id = "deleteVm"
parameters = { "path.id" = { dictionary = "vms", probability = 0.5 } }
[[operations]]
include-operation-id = "deleteVm"
parameters = { "path.id" = { dictionary = "victim", probability = 0.5 } }
# Not with ids seen in answers (GET /vms lists the main VM): deleting it early would leave every
# later case against it a 409 vm_deleted. The stateful phase still deletes VMs the fuzzer created.
phases.coverage.extra-data-sources.responses = false
phases.fuzzing.extra-data-sources.responses = false
[[operations]]
include-path-regex = '^/api/v1/cloud-accounts/\{id\}'
parameters = { "path.id" = { dictionary = "accounts", probability = 0.5 } }
[[operations]]
include-operation-id = "getWorkflow"
parameters = { "path.id" = { dictionary = "workflows", probability = 0.5 } }
EOF

checks="${FUZZ_CHECKS:-not_a_server_error,negative_data_rejection,ignored_auth,missing_required_header,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,ensure_resource_availability}"
# run_st <label> <token> [st options…]
run_st() {
  local label="$1" bearer="$2" rc=0
  shift 2
  # One worker: the product shares the 2 cores, and Hypothesis on Python 3.11 can fail with
  # "AST constructor recursion depth mismatch" when two workers describe strategies at once.
  local cmd=("$st" --config-file "$work/schemathesis.toml" run "$api/api/v1/openapi.json"
    -H "Authorization: Bearer $bearer" --checks "$checks" --max-examples "$max_examples" --seed "$seed"
    --workers 1 --no-color --report junit,har --report-dir "$work/reports/$label" "$@")
  printf '\n== %s: st run %s/api/v1/openapi.json -H "Authorization: Bearer <token>" --checks %s --max-examples %s --seed %s %s\n' \
    "$label" "$api" "$checks" "$max_examples" "$seed" "$*"
  # From the temp dir: Schemathesis keeps its crash cache (for `st replay`) in the working directory.
  (cd "$work" && "${cmd[@]}") | tee "$work/$label.out" || rc=$?
  return "$rc"
}

rc_main=0
run_st main "$token" --exclude-operation-id logout --exclude-operation-id withdraw || rc_main=$?
# Logout and withdraw with a member of their own: after the first logout its token is dead, so
# the rest answer 401 — which still has to be a documented JSON error, not a 5xx.
rc_session=0
run_st session "$(new_member "fuzz-session-$RANDOM")" --include-operation-id logout --include-operation-id withdraw || rc_session=$?

# ---- 5. summary -------------------------------------------------------------------------------
printf '\n== summary (seed %s; replay with FUZZ_SEED=%s)\n' "$seed" "$seed"
for label in main session; do
  printf -- '-- %s\n' "$label"
  # The SUMMARY section without the report paths (they are in the temp dir).
  sed -n '/= SUMMARY =/,$p' "$work/$label.out" | sed '/^Reports:/,/^$/d; /^=* SUMMARY =*$/d; /^ *$/d' | sed 's/^/   /'
done
# Every answer, from the HAR reports: status classes per run, and every 5xx named.
"$py" - "$work"/reports/*/har-*.json <<'EOF'
import collections, json, sys
for path in sys.argv[1:]:
    run = path.split("/")[-2]
    entries = json.load(open(path))["log"]["entries"]
    classes = collections.Counter(f"{e['response']['status'] // 100}xx" for e in entries)
    print(f"-- {run}: {len(entries)} requests, " + ", ".join(f"{k}: {v}" for k, v in sorted(classes.items())))
    for e in entries:
        if e["response"]["status"] >= 500:
            print(f"   5xx: {e['response']['status']} {e['request']['method']} {e['request']['url']}")
EOF
if [ "$rc_main" -ne 0 ] || [ "$rc_session" -ne 0 ]; then
  die "Schemathesis found failures (main exit $rc_main, session exit $rc_session); FUZZ_KEEP=1 keeps $work"
fi
say "no failures: no 5xx, every answer as documented"
