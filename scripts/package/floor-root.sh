#!/usr/bin/env bash
# Prints the path of a Debian root with the real Pacemaker and pcs of that release, building it with
# debootstrap the first time only: CI pays the download once.
#   floor-root.sh [bullseye|trixie]           default bullseye: Debian 11, the oldest glibc (2.31)
#                                             the supported-systems table claims, Pacemaker 2.0.5,
#                                             pcs 0.10.8; trixie: Debian 13, Pacemaker 3.0, pcs 0.12
#   FLOOR_ROOT_CACHE=/var/cache/ocfkit-test   where the roots are kept
#   FLOOR_MIRROR=URL                          default: the mirror apt is configured with
set -euo pipefail
cache=${FLOOR_ROOT_CACHE:-/var/cache/ocfkit-test}
suite=${1:-bullseye}
case $suite in bullseye | trixie) ;; *) echo "floor-root: no root for suite $suite (bullseye, trixie)" >&2; exit 2 ;; esac
root=$cache/$suite-root
# iproute2 and arping for a real vip start, monitor and stop (bullseye: ip -j 5.10, iputils 20210202,
# older than the usual); pcs and Pacemaker's command-line tools for the stack plan and the agents'
# cluster calls against CIB files.
include=iproute2,iputils-arping
extra="pcs pacemaker-cli-utils"
stamp=$root/.ocfkit-root-ready
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$suite $include $extra" ]; then echo "$root"; exit 0; fi
mirror=${FLOOR_MIRROR:-$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | sed -n 's/^URIs: *\(http[^ ]*debian\)\/*$/\1/p' | head -1 || true)}
mirror=${mirror:-http://deb.debian.org/debian}
command -v debootstrap >/dev/null || { echo "floor-root: debootstrap is missing (scripts/deps.sh installs it)" >&2; exit 1; }
mkdir -p "$cache"
# Two test runs at once build it once.
exec 9>"$cache/.lock-$suite"
flock 9
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$suite $include $extra" ]; then echo "$root"; exit 0; fi
rm -rf "$root.tmp"
start=$(date +%s)
debootstrap --variant=minbase --include="$include" "$suite" "$root.tmp" "$mirror" >"$cache/$suite-debootstrap.log" 2>&1 || {
  echo "floor-root: debootstrap $suite from $mirror failed, see $cache/$suite-debootstrap.log" >&2; exit 1; }
# apt inside the root resolves pcs's dependencies (debootstrap's --include does not follow them all);
# /proc and /dev for the maintainer scripts, in a mount namespace of their own so that nothing
# stays mounted in the cache.
cp /etc/resolv.conf "$root.tmp/etc/resolv.conf"
unshare --mount --propagation private sh -c '
  mount -t proc proc "$1/proc" && mount --rbind /dev "$1/dev" &&
  chroot "$1" apt-get update -qq && chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $2
' sh "$root.tmp" "$extra" >>"$cache/$suite-debootstrap.log" 2>&1 || {
  echo "floor-root: apt-get install $extra in the $suite root failed, see $cache/$suite-debootstrap.log" >&2; exit 1; }
# The root only runs programs; the package cache would double its size on CI.
chroot "$root.tmp" apt-get clean
echo "$suite $include $extra" >"$root.tmp/.ocfkit-root-ready"
rm -rf "$root"
mv "$root.tmp" "$root"
echo "floor-root: built $root in $(( $(date +%s) - start )) s" >&2
echo "$root"
