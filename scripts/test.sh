#!/usr/bin/env bash
# The test command: unit tests, then the built binary under the real tools.
#   scripts/test.sh            everything (root: namespaces, addresses, mounts, qemu guests)
#   scripts/test.sh unit       unit tests only (no root)
#   scripts/test.sh integration [vitest args]
#   scripts/test.sh lab [vitest args]   the qemu lab only (root; ~33 min of TCG time, 14 of them the two-site test)
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
if [ "$what" = all ] || [ "$what" = integration ]; then
  [ "$(id -u)" = 0 ] || { echo "test: integration tests need root" >&2; exit 1; }
  npm run --silent build
  sandbox=$(mktemp -d /tmp/ocfkit-test.XXXXXX)
  trap 'rm -rf "$sandbox"' EXIT
  # A private mount namespace: the sandboxed OCF provider and the test namespaces vanish with it.
  unshare --mount --propagation private bash scripts/ocf-sandbox.sh "$sandbox" "${vitest[@]}" --project integration "$@"
fi
# The qemu lab (scripts/lab/README.md): real DRBD, nfsd and a fenced two-node cluster in guests.
# A machine that cannot run qemu fails here, loudly: it never skips.
if [ "$what" = all ] || [ "$what" = lab ]; then
  [ "$(id -u)" = 0 ] || { echo "test: the lab needs root" >&2; exit 1; }
  bash scripts/lab/deps.sh
  [ "$what" = all ] || npm run --silent build
  "${vitest[@]}" --project lab "$@"
fi
