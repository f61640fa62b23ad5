#!/usr/bin/env bash
# The test command: unit tests, then the built binary under the real tools.
#   scripts/test.sh            everything (root: namespaces, addresses, mounts, qemu guests)
#   scripts/test.sh unit       unit tests only (no root)
#   scripts/test.sh integration [vitest args]
#   scripts/test.sh lab [vitest args]   the qemu lab only (root; two labs side by side, ~30 min of TCG
#                                       time; one lab when files are named)
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
# The qemu lab (docs/lab.md): real DRBD, nfsd and a fenced two-node cluster in guests.
# A machine that cannot run qemu fails here, loudly: it never skips.
# With no file named, two labs run side by side, each in its own $LAB_DIR (own guests, switches and
# share): the two-site test in the second, every other file in the first. One lab took 36 min here
# (CI: 32 min), the host only 56 % busy once the integration tests were done; two took 24.3-35.2 min,
# the host 90-95 % busy: the runs are CPU-bound, so what shortens them is less work (docs/lab.md).
# The two-site test alone is the longest part (1289 s of a 1458 s run), so the second lab has nothing else: with the nfs-export test there too it ended 230 s after the first.
LAB_SECOND=(test/lab/site.test.ts)
run_lab() {
  [ "$(id -u)" = 0 ] || { echo "test: the lab needs root" >&2; exit 1; }
  if [ $# -gt 0 ]; then "${vitest[@]}" --project lab "$@"; return; fi
  local log2 pid2 rc1=0 rc2=0 x=()
  log2=$(mktemp /tmp/ocfkit-lab2-test.XXXXXX)
  LAB_DIR=${LAB_DIR:-/var/tmp/ocfkit-lab}-2 "${vitest[@]}" --project lab "${LAB_SECOND[@]}" >"$log2" 2>&1 &
  pid2=$!
  for f in "${LAB_SECOND[@]}"; do x+=(--exclude "$f"); done
  "${vitest[@]}" --project lab "${x[@]}" || rc1=$?
  wait "$pid2" || rc2=$?
  echo "test: the second lab (${LAB_SECOND[*]}):"
  cat "$log2"; rm -f "$log2"
  echo "test: lab tests exited $rc1 (first lab), $rc2 (second lab)"
  [ "$rc1" = 0 ] && [ "$rc2" = 0 ]
}

case $what in
integration) npm run --silent build; run_integration "$@" ;;
lab) bash scripts/lab/deps.sh; npm run --silent build; run_lab "$@" ;;
all)
  [ "$(id -u)" = 0 ] || { echo "test: integration tests and the lab need root" >&2; exit 1; }
  bash scripts/lab/deps.sh
  npm run --silent build
  # The labs run beside the integration tests, which then take longer (825 s with one lab,
  # 1465-1896 s with two, on 2 cores) and end about with the labs. Their output follows the
  # integration tests'.
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
