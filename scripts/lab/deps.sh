#!/usr/bin/env bash
# Installs what the qemu lab needs on the Debian 12 host, as root (only the missing packages).
# The guests run the host's own binaries through a read-only 9p share of /, so everything a guest
# runs (drbd-utils, nfs tools, the cluster stack, node) must be installed on the host.
# The host keeps running its own kernel: linux-image-amd64 only provides /boot/vmlinuz-6.1.* and
# /lib/modules/6.1.* for the guests.
set -euo pipefail
packages=(
  qemu-system-x86                        # qemu-system-x86_64 (TCG)
  linux-image-amd64                      # the guests' kernel and modules (Debian 6.1: drbd 8.4, nfsd)
  busybox-static                         # the guests' initramfs and init
  cpio                                   # packs the initramfs
  vde2                                   # vde_switch: the guests' private link (unix sockets only)
  socat                                  # QMP and serial console sockets
  drbd-utils                             # drbdadm 9.22 (drives the 8.4 module via drbdadm-84)
  nfs-kernel-server nfs-common rpcbind   # kernel NFS server and client tools
  e2fsprogs kmod iproute2 procps         # mkfs.ext4, modprobe, ip, pidof in the guests
  dmsetup                                # DRBD's backing disk through device-mapper (a failing disk on demand)
  libxml2-utils                          # xmllint: crm_mon XML in the guests and the tests
  redis-server                           # the site test's application (with redis-tools: redis-cli)
  pacemaker pacemaker-cli-utils corosync # the cluster (also in scripts/deps.sh)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -gt 0 ] || exit 0
[ "$(id -u)" = 0 ] || { echo "lab deps: need root to install: ${missing[*]}" >&2; exit 1; }
echo "lab deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
