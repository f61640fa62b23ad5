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
# Added later, for the booth-mode site plan (ocf:pacemaker:booth-site, which pcs checks for) and the
# plan's fencing (pcs reads the fence agent's meta-data): booth-pacemaker brings Pacemaker's daemons
# and corosync too. Trixie splits fence-agents into one package per agent.
case $suite in bullseye) fence=fence-agents ;; trixie) fence=fence-agents-dummy ;; esac
added="booth-pacemaker $fence"
# The stamp keeps the words of the first roots, and dpkg is asked for the packages added since: a
# cached root that lacks them (CI machines keep the cache) gets them installed in place instead of a
# new debootstrap, and a checkout of an older script still takes the root as its own.
stamp=$root/.ocfkit-root-ready
missing() {
  local p st
  for p in $added; do
    st=$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = installed ] || printf '%s ' "$p"
  done
}
# apt inside the root resolves the dependencies (debootstrap's --include does not follow them all);
# /proc and /dev for the maintainer scripts, in a mount namespace of their own so that nothing stays
# mounted in the cache. No daemon starts: the root has no init, and policy-rc.d says no to the rest.
apt_install() {
  printf '#!/bin/sh\nexit 101\n' >"$1/usr/sbin/policy-rc.d" && chmod +x "$1/usr/sbin/policy-rc.d"
  cp /etc/resolv.conf "$1/etc/resolv.conf"
  unshare --mount --propagation private sh -c '
    mount -t proc proc "$1/proc" && mount --rbind /dev "$1/dev" &&
    chroot "$1" dpkg --configure -a && chroot "$1" apt-get update -qq && chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $2
  ' sh "$1" "$2"
  local rc=$?
  rm -f "$1/usr/sbin/policy-rc.d"
  # The root only runs programs; the package cache would double its size on CI.
  chroot "$1" apt-get clean
  return $rc
}
ready() { [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$suite $include $extra" ] && [ -z "$(missing)" ]; }
if ready; then echo "$root"; exit 0; fi
mirror=${FLOOR_MIRROR:-$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | sed -n 's/^URIs: *\(http[^ ]*debian\)\/*$/\1/p' | head -1 || true)}
mirror=${mirror:-http://deb.debian.org/debian}
command -v debootstrap >/dev/null || { echo "floor-root: debootstrap is missing (scripts/deps.sh installs it)" >&2; exit 1; }
mkdir -p "$cache"
# Two test runs at once build it once.
exec 9>"$cache/.lock-$suite"
flock 9
if ready; then echo "$root"; exit 0; fi
start=$(date +%s)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$suite $include $extra" ]; then
  add=$(missing) && add=${add% }
  apt_install "$root" "$add" >>"$cache/$suite-debootstrap.log" 2>&1 || {
    echo "floor-root: apt-get install $add in the cached $suite root failed, see $cache/$suite-debootstrap.log" >&2; exit 1; }
  echo "floor-root: added $add to $root in $(( $(date +%s) - start )) s" >&2
  echo "$root"
  exit 0
fi
rm -rf "$root.tmp"
debootstrap --variant=minbase --include="$include" "$suite" "$root.tmp" "$mirror" >"$cache/$suite-debootstrap.log" 2>&1 || {
  echo "floor-root: debootstrap $suite from $mirror failed, see $cache/$suite-debootstrap.log" >&2; exit 1; }
apt_install "$root.tmp" "$extra $added" >>"$cache/$suite-debootstrap.log" 2>&1 || {
  echo "floor-root: apt-get install $extra $added in the $suite root failed, see $cache/$suite-debootstrap.log" >&2; exit 1; }
echo "$suite $include $extra" >"$root.tmp/.ocfkit-root-ready"
rm -rf "$root"
mv "$root.tmp" "$root"
echo "floor-root: built $root in $(( $(date +%s) - start )) s" >&2
echo "$root"
