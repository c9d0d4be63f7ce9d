#!/usr/bin/env bash
# `npm run compat`: proves the official command-line clients work, unchanged, against vmflow's
# cloud simulators.
#   1. installs python-openstackclient + python-heatclient and CloudMonkey into the tools cache
#      (scripts/compat/install.sh, versions in scripts/compat/versions.env);
#   2. starts both simulators on free 127.0.0.1 ports with a throw-away state dir, and stops them
#      on exit whatever happens;
#   3. runs the `openstack` and `cmk` commands below, printing each command and a trimmed copy of
#      its output, and checks the exit status and what the output must contain;
#   4. ends with `compat: N passed, M failed` and exits non-zero if anything failed.
# The clients run with HOME pointing into the temp dir, so no clouds.yaml, cmk config or cache of
# yours is read or written. COMPAT_KEEP=1 keeps the temp dir (simulator logs) for a look afterwards.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
# Sets OPENSTACK_CLI, CMK_CLI, CMK_KIND (go | python).
# shellcheck source=compat/install.sh
source "$here/compat/install.sh"
py="$(dirname "$OPENSTACK_CLI")/python"   # the venv's Python, used to read JSON output

step_timeout="${COMPAT_STEP_TIMEOUT:-300}"   # seconds; bounds every client command
work="$(mktemp -d "${TMPDIR:-/tmp}/vmflow-compat.XXXXXX")"
mkdir -p "$work/bin" "$work/home" "$work/state"
sim_pids=()

stop_simulators() {
  local pid i
  for pid in "${sim_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${sim_pids[@]}"; do
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}
cleanup() {
  stop_simulators
  if [ "${COMPAT_KEEP:-}" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- simulators -------------------------------------------------------------------------------
# start_simulator <name> <entry> <url regex> [VAR=value…]: runs the simulator on port 0 (the kernel
# picks a free port), waits for the line it prints once listening, and sets sim_url to the URL in it.
# (Not run in $(…): the pid must reach sim_pids in this shell for the EXIT trap.)
start_simulator() {
  local name="$1" entry="$2" pattern="$3" log="$work/$1.log" i url
  sim_url=''
  shift 3
  (cd "$root" && exec env "$@" VMFLOW_DATA_DIR="$work/state" node --import tsx "$entry" >"$log" 2>&1) &
  sim_pids+=("$!")
  local pid=$!
  for ((i = 0; i < 600; i++)); do
    url="$(sed -n -E "s#$pattern#\\1#p" "$log" | head -1)"
    if [ -n "$url" ]; then sim_url="$url"; return 0; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  sed 's/^/    /' "$log" >&2
  die "the $name simulator did not start (log above)"
}

say "starting the simulators…"
start_simulator openstack src/sim/openstack/main.ts '^OpenStack simulator at (http://[^ ]+) .*' \
  OPENSTACK_SIM_PORT=0 OPENSTACK_SIM_HOST=127.0.0.1 OPENSTACK_SIM_TIMINGS=fast
os_url="$sim_url"
start_simulator cloudstack src/sim/cloudstack/main.ts '^CloudStack simulator: (http://[^ ]+) .*' \
  CLOUDSTACK_SIM_PORT=0 CLOUDSTACK_SIM_HOST=127.0.0.1 CLOUDSTACK_SIM_TIMINGS=fast VMFLOW_SIM_STATE_DIR="$work/state"
cs_api="$sim_url"
cs_url="${cs_api%/client/api}"
# Slow enough that the clients' --wait / async polling really sees BUILD, saving, *_IN_PROGRESS,
# Starting…; fast enough that the whole run takes about a minute.
curl -fsS -X PATCH -H 'Content-Type: application/json' "$os_url/_sim/timings" -o /dev/null -d \
  '{"serverBuildMs":3000,"serverDeleteMs":2000,"snapshotMs":2000,"imageSaveMs":1000,"stackResourceMs":1000}'
curl -fsS -X PATCH -H 'Content-Type: application/json' "$cs_url/_sim/timings" -o /dev/null -d \
  '{"deployMs":1500,"startMs":1500,"stopMs":1500,"destroyMs":1000,"expungeMs":500}'
say "OpenStack simulator at $os_url, CloudStack simulator at $cs_api"

# ---- client wrappers ----------------------------------------------------------------------------
# The commands below read exactly as a user types them; the wrappers only add the environment.
for v in $(compgen -e | grep -E '^OS_' || true); do unset "$v"; done
cat >"$work/bin/openstack" <<EOF
#!/usr/bin/env bash
export HOME=$(printf %q "$work/home")
export OS_AUTH_URL=$(printf %q "$os_url/identity/v3") OS_IDENTITY_API_VERSION=3
export OS_USERNAME=demo OS_PASSWORD=demo-secret OS_PROJECT_NAME=demo
export OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default
export OS_REGION_NAME=RegionOne OS_INTERFACE=public
exec $(printf %q "$OPENSTACK_CLI") "\$@"
EOF
# The demo account's keys from src/sim/cloudstack/seed.ts (well-known simulator keys, not secrets).
cs_key='PbA8LbQTT2E28uMDiF18JmPrAk5UtLlaZw49kp4DTmNR2rPSlHBb3h6j7SWS5ZBw5Jy-RvJhFP8PdD1syGg-IQ'
cs_secret='zkVU2BBlFi2i5fnKjePvFmvCuyzaotT45Wio_JSr0KRZPgkoxeFs7VwS8E4Fsuv-Fu55Ny5UzROOrVTZXiiIzw'
cmk_config="$work/home/cmk-config"
if [ "$CMK_KIND" = go ]; then
  cmk_flags=(-c "$cmk_config" -u "$cs_api" -k "$cs_key" -s "$cs_secret" -o json)
else
  cmk_flags=(-c "$cmk_config" -d json)
fi
cat >"$work/bin/cmk" <<EOF
#!/usr/bin/env bash
export HOME=$(printf %q "$work/home")
exec $(printf %q "$CMK_CLI") $(printf '%q ' "${cmk_flags[@]}") "\$@"
EOF
chmod +x "$work/bin/openstack" "$work/bin/cmk"
export PATH="$work/bin:$PATH"

# ---- steps --------------------------------------------------------------------------------------
passed=0
failed=0
failures=()
out=''

# Prints at most 14 lines of 160 characters.
trimmed() {
  local lines
  lines="$(printf '%s\n' "$1" | wc -l)"
  printf '%s\n' "$1" | head -n 14 | cut -c1-160 | sed 's/^/    /'
  if [ "$lines" -gt 14 ]; then printf '    … (%d more lines)\n' $((lines - 14)); fi
}

# step [regex…] -- <command…>: runs the command (bounded by step_timeout), prints it and its
# output, and counts it passed when it exits 0 and its output (colours stripped) matches every
# extended regex (`!regex`: must not match). The output is left in $out for the next steps.
step() {
  local expect=() rc=0 re
  while [ "$1" != -- ]; do expect+=("$1"); shift; done
  shift
  printf '\n[%02d] $ %s\n' $((passed + failed + 1)) "$*"
  out="$(timeout --foreground "$step_timeout" "$@" 2>&1)" || rc=$?
  out="$(printf '%s' "$out" | sed -E 's/\x1b\[[0-9;]*[A-Za-z]//g')"
  trimmed "$out"
  if [ "$rc" -ne 0 ]; then
    printf '  FAIL: exit status %d%s\n' "$rc" "$([ "$rc" = 124 ] && echo " (timed out after ${step_timeout}s)")"
  else
    for re in "${expect[@]}"; do
      if [ "${re:0:1}" = '!' ]; then
        if grep -Eq -- "${re:1}" <<<"$out"; then printf '  FAIL: the output matches /%s/\n' "${re:1}"; rc=1; fi
      elif ! grep -Eq -- "$re" <<<"$out"; then
        printf '  FAIL: the output does not match /%s/\n' "$re"
        rc=1
      fi
    done
  fi
  if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1))
    printf '  ok\n'
    # The evidence, when the trimmed copy above may have cut it off.
    for re in "${expect[@]}"; do
      [ "${re:0:1}" = '!' ] || grep -Em1 -- "$re" <<<"$out" | cut -c1-150 | sed -E 's/^ */    matched: /; s/ +$//'
    done
  else
    failed=$((failed + 1))
    failures+=("$*")
  fi
  return 0
}

# json <python expression over d>: evaluates it on the JSON object in $out, skipping what a client
# prints before it (the legacy CloudMonkey's async spinner); prints nothing if that fails.
json() {
  "$py" -c 'import json, sys
text = sys.stdin.read()
try:
    d = json.loads(text[text.index("{"):]); print(eval(sys.argv[1]))
except Exception:
    pass' "$1" <<<"$out"
}

# verify <description> <python boolean expression over d>: a check of the last output's JSON,
# counted like a step.
verify() {
  printf '\n[%02d] check: %s\n' $((passed + failed + 1)) "$1"
  if [ "$(json "bool($2)")" = True ]; then
    passed=$((passed + 1))
    printf '  ok\n'
  else
    failed=$((failed + 1))
    failures+=("check: $1")
    printf '  FAIL: %s is not true\n' "$2"
  fi
}

# ---- OpenStack ----------------------------------------------------------------------------------
printf '\n== OpenStack: %s\n' "$("$OPENSTACK_CLI" --version 2>&1) + python-heatclient $HEATCLIENT_VERSION"
step '\| expires +\| 20' '\| project_id +\| [0-9a-f]{32}' -- openstack token issue
step 'm1\.small' -- openstack flavor list
step 'ubuntu-24\.04' -- openstack image list
step 'private' -- openstack network list
step 'status +\| ACTIVE' -- openstack server create --flavor m1.small --image ubuntu-24.04 --network private --wait compat-vm
step 'compat-vm +\| ACTIVE' -- openstack server list
step 'status +\| ACTIVE' -- openstack server show compat-vm
step 'name +\| compat-snap' 'status +\| active' -- openstack server image create --name compat-snap --wait compat-vm
step 'status +\| active' -- openstack image show compat-snap
step -- openstack server delete --wait compat-vm
step '!.' -- openstack server list --name '^compat-vm$' -f value -c ID
step 'stack_status +\| CREATE_COMPLETE' -- openstack stack create -t "$here/compat/stack.yaml" --wait compat-stack
stack_id="$(sed -n -E 's/^\| id +\| ([0-9a-f-]{36}) +\|$/\1/p' <<<"$out" | head -1)"
step 'stack_status +\| CREATE_COMPLETE' -- openstack stack show compat-stack
step 'OS::Nova::Server.*CREATE_COMPLETE' -- openstack stack resource list compat-stack
# --wait stops at the stack's DELETE_COMPLETE event or, as with a real Heat, at the 404 its name
# gives once the stack is deleted; so the result is read back by id, which keeps answering.
step -- openstack stack delete --yes --wait compat-stack
step 'stack_status +\| DELETE_COMPLETE' -- openstack stack show "$stack_id" -c stack_status
step '!.' -- openstack stack list -f value -c 'Stack Name'
# A project's own network, subnet and router (Neutron create/delete), zones and quotas.
step 'name +\| compat-net' -- openstack network create compat-net
step 'cidr +\| 10\.77\.0\.0/24' 'gateway_ip +\| 10\.77\.0\.1' -- openstack subnet create --network compat-net --subnet-range 10.77.0.0/24 compat-subnet
step 'name +\| compat-router' -- openstack router create compat-router
step -- openstack router set --external-gateway public compat-router
step -- openstack router add subnet compat-router compat-subnet
step 'network:router_interface' -- openstack port list --router compat-router --long
step 'nova' -- openstack availability zone list
step 'networks +\| +100 ' -- openstack quota show
step -- openstack router remove subnet compat-router compat-subnet
step -- openstack router delete compat-router
step -- openstack network delete compat-net
step '!.' -- openstack network list --name compat-net -f value -c ID

# ---- CloudStack ---------------------------------------------------------------------------------
printf '\n== CloudStack: %s\n' "$([ "$CMK_KIND" = go ] && echo "CloudMonkey $CMK_VERSION (cloudstack-cloudmonkey)" \
  || echo "legacy Python CloudMonkey $CLOUDMONKEY_PY_VERSION (the Go build was not available)")"
if [ "$CMK_KIND" = go ]; then
  printf '    (cmk runs as: cloudstack-cloudmonkey -c <temp config> -u %s -k <demo apiKey> -s <demo secretKey> -o json …)\n' "$cs_api"
else
  # The legacy client takes its server from the config file: `set` writes it (the temp one).
  step -- cmk set url "$cs_api"
  step -- cmk set apikey "$cs_key"
  step -- cmk set secretkey "$cs_secret"
  step -- cmk set color false
fi
step '[0-9]+ APIs' -- cmk sync
step '"name": *"[^"]+"' -- cmk list zones
zone_id="$(json "d['zone'][0]['id']")"
step '"name": *"[^"]+"' -- cmk list serviceofferings
offering_id="$(json "next(o['id'] for o in d['serviceoffering'] if o['name'] == 'Small Instance')" )"
[ -n "$offering_id" ] || offering_id="$(json "d['serviceoffering'][0]['id']")"
step '"isready": *true' -- cmk list templates templatefilter=featured
template_id="$(json "next(t['id'] for t in d['template'] if t['isready'])")"
# The display name puts characters that need percent-encoding (and a non-ASCII one) through the
# client's request signing and the simulator's verification. The quotes are cmk's own syntax.
display='compat VM (ü) & co: a+b=c/d, 100%!'
step '"state": *"Stopped"' -- cmk deploy virtualmachine zoneid="$zone_id" templateid="$template_id" \
  serviceofferingid="$offering_id" name=compat "displayname=\"$display\"" startvm=false
# cmk prints the job result ({virtualmachine}); the legacy client the whole queryAsyncJobResult.
vm_id="$(json "(d.get('jobresult') or d).get('virtualmachine', d)['id']")"
step '"name": *"compat"' -- cmk list virtualmachines
verify "the listed VM is Stopped and has the display name as sent" \
  "[(v['state'], v['displayname']) for v in d['virtualmachine'] if v['name'] == 'compat'] == [('Stopped', '$display')]"
step '"state": *"Running"' -- cmk start virtualmachine id="$vm_id"
step '"state": *"Stopped"' -- cmk stop virtualmachine id="$vm_id"
step '"state": *"(Destroyed|Expunging)"' -- cmk destroy virtualmachine id="$vm_id" expunge=true
step '"guestiptype": *"Isolated"' -- cmk list networkofferings guestiptype=Isolated
net_offering_id="$(json "d['networkoffering'][0]['id']")"
step '"state": *"Allocated"' -- cmk create network name=compat-net displaytext=compat networkofferingid="$net_offering_id" zoneid="$zone_id"
net_id="$(json "d.get('network', d)['id']")"
step '"success": *true' -- cmk delete network id="$net_id"

# ---- summary ------------------------------------------------------------------------------------
printf '\n'
for f in "${failures[@]}"; do printf 'FAILED: %s\n' "$f"; done
printf 'compat: %d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
