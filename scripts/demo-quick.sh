#!/usr/bin/env bash
# The main job on an embedded default, in one command: a floating address managed by Pacemaker
# with ocf:ocfkit:vip, on a one-node cluster in private namespaces (scripts/cluster/solo.sh), then
# the link check at work: the link goes down, monitor fails with the reason, the cluster stops the
# address; the link comes back, `pcs resource cleanup`, the address runs again. Nothing on the host
# changes; the node is torn down on exit, whatever happens. Exits non-zero if a step misbehaves.
#   bash scripts/demo.sh --quick  (npm run demo -- --quick; root; about 20 s after the first run,
#                                 which installs what it needs)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
solo=$top/scripts/cluster/solo.sh
export SOLO_NS=${SOLO_NS:-ocfkit-demo} SOLO_NODE=solo
VIP=192.0.2.50
t0=$SECONDS
state=''

step() { printf '\n== %s\n' "$*"; }
fail() {
  echo "demo: FAILED: $*" >&2
  exit 1
}
# CMD inside the node, bounded.
node() { bash "$solo" exec "$state" timeout 90 "$@"; }
# Shows a command as a reader would type it inside the node, then runs it.
show() {
  echo "# $*"
  node "$@"
}
crm_xml() { node crm_mon -1 --output-as=xml 2>/dev/null; }
# XPATH (an XPath 1.0 expression) evaluated on crm_mon's XML: string(...) or boolean(...).
xq() { xmllint --xpath "$2" - <<<"$1" 2>/dev/null; }
# wait_for SECONDS WHAT XPATH: polls crm_mon's XML until the boolean XPath holds.
wait_for() {
  local secs=$1 what=$2 xpath=$3 end=$((SECONDS + $1)) xml
  while :; do
    xml=$(crm_xml) && [ "$(xq "$xml" "boolean($xpath)")" = true ] && return 0
    ((SECONDS < end)) || fail "no $what after ${secs}s"
    sleep 0.5
  done
}

finish() {
  local rc=$? drc=0
  set +e
  trap - INT TERM
  if [ -n "$state" ]; then
    step "Tear down: pacemakerd --shutdown, corosync-cfgtool -H, delete the namespace"
    local ns
    ns=$(cat "$state/netns" 2>/dev/null) # recorded once up created it
    bash "$solo" down "$state"
    drc=$?
    if [ $drc -eq 0 ] && { { [ -n "$ns" ] && [ -e "/run/netns/$ns" ]; } || [ -e "$state" ]; }; then
      echo "demo: the namespace $ns or $state is still there after tear-down" >&2
      drc=1
    fi
    [ $drc -eq 0 ] || echo "demo: tear-down failed (rc $drc)" >&2
  fi
  [ $rc -ne 0 ] || rc=$drc
  if [ $rc -eq 0 ]; then echo "demo: OK in $((SECONDS - t0))s"; else echo "demo: FAILED (rc $rc) after $((SECONDS - t0))s" >&2; fi
  exit $rc
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ "$(id -u)" = 0 ] || fail "run as root: the demo creates namespaces and starts corosync/pacemaker in them"
bash "$top/scripts/deps.sh"
# OCFKIT_DEMO_NO_BUILD=1: use dist/ as it is (the test suite has just built it).
if [ "${OCFKIT_DEMO_NO_BUILD:-}" != 1 ] || [ ! -x "$top/dist/ocfkit" ]; then
  step "Build dist/ocfkit"
  (cd "$top" && npm run --silent build)
fi

step "Start a one-node cluster (corosync + pacemakerd in netns $SOLO_NS, ocf:ocfkit:* installed in a sandbox)"
state=$(mktemp -d /tmp/ocfkit-demo.XXXXXX)
t_up=$SECONDS
bash "$solo" up "$state"
echo "up in $((SECONDS - t_up))s"

# migration-threshold=1: after one failure the address leaves the node, as it would leave for a peer
# on a real cluster. Without it Pacemaker first restarts it in place; that start fails too (vip
# refuses a link without carrier) and the start failure then hides the monitor failure.
step "Create the floating address 192.0.2.50/24 on svc0, monitored every 5 s"
show pcs resource create demo-ip ocf:ocfkit:vip ip=$VIP cidr_netmask=24 nic=svc0 \
  op monitor interval=5s meta migration-threshold=1 --wait=60

step "pcs status"
out=$(node pcs status)
echo "$out"
grep -Eq 'demo-ip[[:space:]]+\(ocf:ocfkit:vip\):[[:space:]]+Started solo' <<<"$out" || fail "demo-ip is not Started on solo"

step "The address is on svc0"
out=$(show ip -br addr show svc0)
echo "$out"
grep -q " $VIP/24" <<<"$out" || fail "$VIP/24 is not on svc0"

step "Cut the link: the veth peer svc1 goes down, so svc0 loses its carrier"
show ip link set svc1 down
show ip -br link show svc0
t_fail=$SECONDS
wait_for 30 "failed demo-ip monitor in crm_mon" \
  "//failures/failure[@op_key='demo-ip_monitor_5000' and @task='monitor']"
reason=$(xq "$(crm_xml)" "string(//failures/failure[@op_key='demo-ip_monitor_5000']/@exitreason)")
echo "monitor failed after $((SECONDS - t_fail))s; exit reason: $reason"
grep -Eqi 'carrier|link' <<<"$reason" || fail "the monitor's exit reason does not mention the link: $reason"
wait_for 30 "stopped demo-ip" "//resources/resource[@id='demo-ip' and @role='Stopped' and @active='false']"

step "pcs status: the failed monitor and its reason; the cluster stopped the address"
out=$(node pcs status)
echo "$out"
grep -Eq "demo-ip 5s-interval monitor on solo returned 'error' \(.*(carrier|link)" <<<"$out" ||
  fail "pcs status does not show the failed monitor with its reason"
out=$(show ip -br addr show svc0)
echo "$out"
! grep -q " $VIP/" <<<"$out" || fail "$VIP is still on svc0 after the cluster stopped demo-ip"

step "Restore the link, clear the failure: the address runs again"
show ip link set svc1 up
end=$((SECONDS + 15))
until [[ $(node ip link show svc0) == *LOWER_UP* ]]; do
  ((SECONDS < end)) || fail "svc0 has no carrier 15 s after svc1 came back up"
  sleep 0.2
done
show pcs resource cleanup demo-ip
t_back=$SECONDS
wait_for 60 "running demo-ip after cleanup" \
  "//resources/resource[@id='demo-ip' and @role='Started' and @active='true' and @failed='false']/node[@name='solo'] and not(//failures/failure)"
echo "running again after $((SECONDS - t_back))s"
out=$(node pcs status resources)
echo "$out"
grep -Eq 'demo-ip[[:space:]]+\(ocf:ocfkit:vip\):[[:space:]]+Started solo' <<<"$out" || fail "demo-ip is not Started again"
out=$(show ip -br addr show svc0)
echo "$out"
grep -q " $VIP/24" <<<"$out" || fail "$VIP/24 is not back on svc0"
