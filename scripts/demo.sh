#!/usr/bin/env bash
# The demo (npm run demo; docs/lab.md#the-demo): the whole HA NFS stack in the qemu lab failing over
# under a writing client (scripts/lab/demo.ts says what it shows), then the lab torn down.
#   bash scripts/demo.sh [--plain] [--json FILE] [--keep]   (root, qemu; 6.5 min on 2 idle cores, TCG)
#   bash scripts/demo.sh --quick     the one-node demo without qemu (scripts/demo-quick.sh)
# --plain: no live line (CI; the default when stdout is no terminal); --json FILE: the whole
# output and every number as JSON; --keep: leave the lab up, the client still writing.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
for a in "$@"; do
  [ "$a" = --quick ] && exec bash "$top/scripts/demo-quick.sh"
done
[ "$(id -u)" = 0 ] || { echo "demo: run as root: the lab's guests share the host root and need vde_switch" >&2; exit 1; }
bash "$top/scripts/deps.sh"
bash "$top/scripts/lab/deps.sh"
# OCFKIT_DEMO_NO_BUILD=1: use dist/ as it is (the test suite has just built it).
if [ "${OCFKIT_DEMO_NO_BUILD:-}" != 1 ] || [ ! -x "$top/dist/ocfkit" ]; then
  echo "== Build dist/ocfkit"
  (cd "$top" && npm run --silent build)
fi
# The lab's helpers run under the product's own runtime: the Bun pinned in package.json.
bun=$(cd "$top" && node -p "require('path').join(require('path').dirname(require.resolve('@oven/bun-linux-x64-baseline/package.json')), 'bin', 'bun')")
# In the background (so it ignores the terminal's Ctrl-C, which would only end the guest command
# in flight): an interruption ends the demo here and takes the lab down, keeping its logs.
"$bun" "$top/scripts/lab/demo.ts" "$@" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid"; echo "demo: interrupted; tearing the lab down" >&2; bash "$top/scripts/lab/lab.sh" down --show-logs; exit 130' INT TERM
wait "$pid"
