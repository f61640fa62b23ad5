#!/usr/bin/env bash
# Installs what building and testing need on Debian 12, as root: Debian packages (only those
# missing) and the npm dependencies (Node 24 among them, from the npm registry).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
packages=(
  pacemaker pacemaker-cli-utils corosync pcs resource-agents   # the cluster and its tools, ocf-tester
  fence-agents                                                  # fence_dummy for stack simulations with fencing
  booth booth-pacemaker                                         # two-site tickets: boothd checks booth.conf, ocf:pacemaker:booth-site
  iproute2 iputils-arping                                       # vip
  libxml2-utils                                                 # xmllint: meta-data against DTD and RNG
  util-linux procps psmisc time                                 # unshare, nsenter, pgrep, GNU time for bench
  socat                                                         # a /dev/log receiver for the syslog test
  qemu-user                                                     # qemu-x86_64 -cpu Nehalem: the executable needs no AVX2
  e2fsprogs xfsprogs                                            # fs-mount: real ext4 and xfs on loop devices
  bindfs fuse3                                                  # a FUSE filesystem whose daemon is stopped: paths that really hang
  drbd-utils                                                    # drbd-promote: the real drbdadm reads configurations (test/standins stand in for the module)
  rpm lintian rpmlint                                           # npm run package (rpmbuild) and its checks
  debootstrap                                                   # the Debian 11 root of the glibc floor test
  man-db groff-base                                             # man pages checked with man --warnings, groff -ww
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "deps: need root to install: ${missing[*]}" >&2; exit 1; }
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
cd "$top"
if [ ! -x node_modules/.bin/vitest ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
