#!/usr/bin/env bash
# The test command: unit tests, then the built binary under the real tools.
#   scripts/test.sh            everything (root: namespaces, addresses, mounts, qemu guests)
#   scripts/test.sh unit       unit tests only (no root)
#   scripts/test.sh integration [vitest args]
#   scripts/test.sh lab [vitest args]   the qemu lab only (root; 40–60 min of TCG time, a third of it the two-site test)
#   Everything runs the lab beside the integration tests, its output after theirs.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash scripts/deps.sh
what=${1:-all}; [ $# -gt 0 ] && shift
# Agents run with Pacemaker's clean environment; this variable would slow every Node start-up.
unset NODE_EXTRA_CA_CERTS
vitest=("$top/node_modules/.bin/vitest" run)

if [ "$what" = all ] || [ "$what" = unit ]; then
  npx tsc --noEmit -p .
  "${vitest[@]}" --project unit "$@"
fi
run_integration() {
  [ "$(id -u)" = 0 ] || { echo "test: integration tests need root" >&2; exit 1; }
  sandbox=$(mktemp -d /tmp/ocfkit-test.XXXXXX)
  # A private mount namespace: the sandboxed OCF provider and the test namespaces vanish with it.
  rc=0
  unshare --mount --propagation private bash scripts/ocf-sandbox.sh "$sandbox" "${vitest[@]}" --project integration "$@" || rc=$?
  rm -rf "$sandbox"
  return $rc
}
# The qemu lab (scripts/lab/README.md): real DRBD, nfsd and a fenced two-node cluster in guests.
# A machine that cannot run qemu fails here, loudly: it never skips.
run_lab() {
  [ "$(id -u)" = 0 ] || { echo "test: the lab needs root" >&2; exit 1; }
  "${vitest[@]}" --project lab "$@"
}

case $what in
integration) npm run --silent build; run_integration "$@" ;;
lab) bash scripts/lab/deps.sh; npm run --silent build; run_lab "$@" ;;
all)
  [ "$(id -u)" = 0 ] || { echo "test: integration tests and the lab need root" >&2; exit 1; }
  bash scripts/lab/deps.sh
  npm run --silent build
  # The lab runs beside the integration tests: its guests wait on the cluster's clocks more than
  # they use the host's cores, and the integration tests took as long with a lab running (458 s
  # against 462 s). Its output follows theirs.
  lablog=$(mktemp /tmp/ocfkit-lab-test.XXXXXX)
  run_lab "$@" >"$lablog" 2>&1 &
  labpid=$!
  trap 'kill "$labpid" 2>/dev/null || :' INT TERM
  irc=0
  run_integration "$@" || irc=$?
  echo "test: integration tests exited $irc; waiting for the lab tests (started beside them)"
  lrc=0
  wait "$labpid" || lrc=$?
  cat "$lablog"
  rm -f "$lablog"
  echo "test: integration tests exited $irc, lab tests $lrc"
  [ "$irc" = 0 ] && [ "$lrc" = 0 ]
  ;;
unit) ;;
*) echo "test: unknown part '$what' (unit, integration, lab, or nothing for all)" >&2; exit 2 ;;
esac
