#!/usr/bin/env bash
# Builds the ocfkit executable of one commit into DIR, with its agent links, for the bench's third
# contestant (BENCH_PREV=DIR npm run bench; bench/README.md, "The previous build"):
#
#   scripts/bench-prev.sh REV [DIR]      DIR defaults to ${TMPDIR:-/tmp}/ocfkit-prev-<short rev>
#
# The commit is checked out into a temporary git worktree and built there with its own lockfile
# (`npm ci`, then `npm run build`): a commit before the Bun switch builds its Node SEA with the
# postject and Node of its own package-lock, a later one its Bun executable. Nothing of this
# checkout's node_modules or dist/ is used or changed. OCFKIT_* build knobs in the environment
# (OCFKIT_SEA_MODE, OCFKIT_BUN_FLAVOUR, OCFKIT_BUNDLER ...) reach that commit's build as they are.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: $0 REV [DIR]" >&2; exit 2; }
rev=$(git -C "$top" rev-parse --verify "$1^{commit}")
short=$(git -C "$top" rev-parse --short "$rev")
dir=${2:-${TMPDIR:-/tmp}/ocfkit-prev-$short}

tree=$(mktemp -d "${TMPDIR:-/tmp}/ocfkit-prev-tree.XXXXXX")
# The worktree's entry lives in the shared .git: always removed again, also on failure.
cleanup() {
  git -C "$top" worktree remove --force "$tree" 2>/dev/null || true
  rm -rf "$tree"
  git -C "$top" worktree prune
}
trap cleanup EXIT
git -C "$top" worktree add --detach --quiet "$tree" "$rev"

cd "$tree"
echo "bench-prev: building $short in $tree (npm ci, npm run build)" >&2
npm ci --no-audit --no-fund --loglevel=error >&2
npm run --silent build >&2
[ -x dist/ocfkit ] || { echo "bench-prev: $short's build left no dist/ocfkit" >&2; exit 1; }

mkdir -p "$dir"
rm -f "$dir/ocfkit"
cp dist/ocfkit "$dir/ocfkit"
# The agent links as that build made them (every symlink in dist/ that points to the executable).
for l in dist/*; do
  [ -L "$l" ] && [ "$(readlink "$l")" = ocfkit ] && ln -sfn ocfkit "$dir/$(basename "$l")"
done
echo "bench-prev: $short -> $dir: $("$dir/ocfkit" --version); agents: $(cd "$dir" && find . -maxdepth 1 -type l -printf '%f ')" >&2
echo "BENCH_PREV=$dir"
