#!/usr/bin/env bash
# The ocfkit lab: qemu guests (TCG) running Debian's own 6.1 kernel, for what this host's kernel
# cannot do (DRBD 8.4, the kernel NFS server) and for a real two-node Pacemaker cluster with fencing.
#
#   lab.sh up [--client]         build the initramfs if missing or stale, boot node1 and node2
#                                (and a small third guest "client" with --client), wait until they
#                                answer commands. Idempotent: a lab that is up and answering is kept.
#   lab.sh exec [-t SECS] NODE CMD...
#                                run CMD (an argv, no shell) in a guest; its stdout, stderr and exit
#                                code come back. -t bounds it (default $LAB_EXEC_TIMEOUT s).
#   lab.sh cluster               corosync (knet, two_node) + pacemakerd on node1 and node2, seeded
#                                CIB with stonith enabled (device fence-lab); returns when both
#                                nodes are online with quorum and fence-lab is started. Idempotent:
#                                restarts the stack only where it is not running (e.g. after fencing).
#   lab.sh sites                 instead of `cluster`: two one-node clusters, site a on node1 and
#                                site b on node2 (each its own corosync + pacemakerd, no fencing),
#                                whose CIB and /var/lib/ocfkit live in the share (as on a disk: they
#                                survive a power cut). Returns when both are online. Idempotent.
#   lab.sh wait NODE [SECS]      wait until NODE answers commands (after a reboot or a fence)
#   lab.sh start NODE            power NODE on again after a kill (a fresh qemu on the same disk)
#   lab.sh kill NODE             cut NODE's power: SIGKILL its qemu (no shutdown, nothing flushed).
#   lab.sh link NODE main|repl up|down
#                                plug or pull one of NODE's cables (QMP set_link: the guest sees its
#                                carrier go, as with a cable pulled): main is the cluster and client
#                                link, repl the DRBD replication link between node1 and node2
#                                A fence "reboot" or "on" of a guest whose qemu is gone boots it
#                                again, as a power switch would; "off" of it succeeds at once.
#   lab.sh sync-dist             copy the project's dist/ocfkit to the guests (ocf:ocfkit:* in them)
#   lab.sh status                what runs, and whether each guest answers
#   lab.sh shell NODE            interactive root shell on NODE's serial console (Ctrl-] leaves)
#   lab.sh logs [DIR]            collect the guests' logs (dmesg, cluster logs), console logs and every boot's kernel messages
#   lab.sh down [--purge] [--show-logs]
#                                stop the guests (poweroff, then quit, then kill), remove what up
#                                made; keep the console logs under $LAB_DIR/logs; --purge also
#                                removes the cached initramfs and kernel (all of $LAB_DIR)
#   lab.sh bench-up [--keep]     from nothing: time to guests ready and to cluster online (JSON)
#
# Environment: LAB_DIR (default /var/tmp/ocfkit-lab), LAB_MEM (MiB per node, 1024), LAB_CLIENT_MEM
# (MiB, 512), LAB_TB_MB (TCG translation cache per guest, 1024), LAB_SMP (vCPUs per node, 1; 2 made
# the stack's start 7 % faster, measured once), LAB_DISK_MB (DRBD disk per node, 64: every full
# sync copies all of it), LAB_BOOT_TIMEOUT (240 s), LAB_EXEC_TIMEOUT (300 s), LAB_CLUSTER_TIMEOUT (300 s),
# LAB_TOKEN_MS (corosync token, 10000: a lost node is noticed after ~2.2x that), LAB_KERNEL (a
# /boot/vmlinuz-* path; default the newest 6.1 one), LAB_INIT (busybox, the default, or systemd:
# the guests boot systemd as PID 1, and logs add each guest's journal).
#
# How it is built (see docs/lab.md#how-it-is-built): each guest's root is the host's / shared
# read-only over 9p (cached) under a tmpfs overlay; a second, uncached 9p share ($LAB_DIR/run/share,
# /lab in the guests) carries the boot scripts, the command mailboxes, the fence requests and a copy
# of dist/. The guests are linked by a vde_switch over unix sockets: their addresses (192.0.2.0/24)
# exist on that link only; no tap, bridge or host port.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here=$top/scripts/lab
self=$here/lab.sh

LAB_DIR=${LAB_DIR:-/var/tmp/ocfkit-lab}
LAB_MEM=${LAB_MEM:-1024}
LAB_CLIENT_MEM=${LAB_CLIENT_MEM:-512}
LAB_TB_MB=${LAB_TB_MB:-1024}
LAB_SMP=${LAB_SMP:-1}
LAB_DISK_MB=${LAB_DISK_MB:-64}
LAB_BOOT_TIMEOUT=${LAB_BOOT_TIMEOUT:-240}
LAB_EXEC_TIMEOUT=${LAB_EXEC_TIMEOUT:-300}
LAB_CLUSTER_TIMEOUT=${LAB_CLUSTER_TIMEOUT:-300}
LAB_TOKEN_MS=${LAB_TOKEN_MS:-10000}
# The guests' PID 1: busybox init (the default) or systemd with the units as Debian packages them.
LAB_INIT=${LAB_INIT:-busybox}
case $LAB_INIT in busybox | systemd) ;; *) echo "lab.sh: LAB_INIT=$LAB_INIT is not busybox or systemd" >&2; exit 2 ;; esac
# systemd's boot took 43 s more than busybox's on a quiet host (guests ready: 85.7 s against 42.5 s),
# and did not publish its agent within 240 s with the host at load 13.
[ "$LAB_INIT" = systemd ] && [ "$LAB_BOOT_TIMEOUT" = 240 ] && LAB_BOOT_TIMEOUT=420
CACHE=$LAB_DIR/cache
RUN=$LAB_DIR/run
SHARE=$RUN/share
LOGS=$LAB_DIR/logs

declare -A IP=([node1]=192.0.2.11 [node2]=192.0.2.12 [client]=192.0.2.13)
declare -A MAC=([node1]=52:54:00:0c:f0:11 [node2]=52:54:00:0c:f0:12 [client]=52:54:00:0c:f0:13)
# The replication link (eth1 on node1 and node2, DRBD only), on its own switch: cut alone, it
# separates the DRBD peers while the cluster still sees both nodes.
declare -A REPL_IP=([node1]=198.51.100.11 [node2]=198.51.100.12)
declare -A REPL_MAC=([node1]=52:54:00:0c:f1:11 [node2]=52:54:00:0c:f1:12)
CLUSTER_NODES=(node1 node2)
# Bump when the initramfs layout changes in a way the stamp below does not see.
INITRAMFS_FORMAT=1
INITRAMFS_MODULES=(virtio_pci 9pnet_virtio 9p overlay)

say() { echo "lab: $*" >&2; }
die() {
  say "$*"
  exit 1
}
usage() {
  sed -n '2,/^# Environment/p' "$self" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# True while PID runs (a zombie does not count).
running() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

# True when PID's command line contains MARK. (No `| grep -q` here: under pipefail the writer's
# SIGPIPE would make a match look like a miss.)
cmdline_has() {
  local c
  c=$(2>/dev/null tr '\0' ' ' <"/proc/$1/cmdline") || return 1
  [[ $c == *"$2"* ]]
}

# The pid in FILE if it runs and its command line mentions MARK (guards against pid reuse).
live_pid() {
  local file=$1 mark=$2 pid
  [ -s "$file" ] || return 1
  pid=$(tr -dc 0-9 <"$file")
  [ -n "$pid" ] && running "$pid" || return 1
  cmdline_has "$pid" "$mark" || return 1
  echo "$pid"
}

qemu_pid() { live_pid "$RUN/$1/qemu.pid" "$RUN/$1/"; }

# Nodes this run started, in order.
run_nodes() { [ -s "$RUN/nodes" ] && cat "$RUN/nodes" || true; }

known_node() { [ -n "${IP[$1]:-}" ] || die "unknown node '$1' (node1, node2, client)"; }

check_tools() {
  local t missing=()
  for t in qemu-system-x86_64 busybox cpio vde_switch socat modprobe; do
    command -v "$t" >/dev/null || missing+=("$t")
  done
  [ ${#missing[@]} -eq 0 ] || die "missing ${missing[*]}: run scripts/lab/deps.sh (as root)"
  [ "$(id -u)" = 0 ] || die "the lab needs root (qemu's 9p share of / must read every file)"
  qemu-system-x86_64 -accel help 2>/dev/null | grep -x tcg >/dev/null ||
    die "qemu-system-x86_64 cannot run here: no TCG accelerator ($(qemu-system-x86_64 -accel help 2>&1 | tr '\n' ' '))"
}

# --- the initramfs ------------------------------------------------------------------------------

kernel_image() {
  local k
  if [ -n "${LAB_KERNEL:-}" ]; then
    k=$LAB_KERNEL
  else
    k=$(ls /boot/vmlinuz-6.1.*-amd64 2>/dev/null | sort -V | tail -n 1 || true)
  fi
  [ -n "$k" ] && [ -r "$k" ] || die "no Debian 6.1 kernel in /boot: run scripts/lab/deps.sh (linux-image-amd64)"
  [ -d "/lib/modules/${k#/boot/vmlinuz-}" ] || die "no /lib/modules/${k#/boot/vmlinuz-} for $k"
  echo "$k"
}

# Module files (relative to /lib/modules/KVER) in load order, without duplicates.
initramfs_modules() {
  local kver=$1 m line seen=' '
  for m in "${INITRAMFS_MODULES[@]}"; do
    while read -r line; do
      set -- $line
      [ "${1:-}" = insmod ] || continue
      line=${2#/lib/modules/$kver/}
      case $seen in *" $line "*) continue ;; esac
      seen+="$line "
      echo "$line"
    done < <(modprobe -S "$kver" --show-depends "$m")
  done
}

build_initramfs() {
  local k kver stamp tmp m t0
  k=$(kernel_image)
  kver=${k#/boot/vmlinuz-}
  stamp=$({
    echo "format $INITRAMFS_FORMAT kernel $kver"
    sha256sum "$k" /bin/busybox "$here/guest/init"
    initramfs_modules "$kver"
  } | sha256sum | cut -c1-16)
  if [ -s "$CACHE/initramfs.cpio.gz" ] && [ -s "$CACHE/vmlinuz" ] &&
    [ "$(cat "$CACHE/initramfs.stamp" 2>/dev/null)" = "$stamp" ]; then
    return 0
  fi
  t0=$(now)
  say "building the initramfs for $kver"
  mkdir -p "$CACHE"
  tmp=$(mktemp -d "$CACHE/build.XXXXXX")
  mkdir -p "$tmp"/{bin,dev,proc,sys,lower,rw,newroot,lib/modules}
  cp /bin/busybox "$tmp/bin/busybox"
  # Only the applets init uses: linking every applet would make bin/busybox a self-symlink (ELOOP).
  for t in sh mount umount mkdir insmod switch_root cat sleep echo poweroff; do
    ln -s busybox "$tmp/bin/$t"
  done
  mknod -m 600 "$tmp/dev/console" c 5 1
  : >"$tmp/modules"
  while read -r m; do
    cp "/lib/modules/$kver/$m" "$tmp/lib/modules/${m##*/}"
    echo "${m##*/}" >>"$tmp/modules"
  done < <(initramfs_modules "$kver")
  install -m 755 "$here/guest/init" "$tmp/init"
  (cd "$tmp" && find . | cpio -o -H newc --quiet | gzip -1) >"$CACHE/initramfs.cpio.gz.tmp"
  rm -rf "$tmp"
  cp "$k" "$CACHE/vmlinuz.tmp"
  mv -f "$CACHE/vmlinuz.tmp" "$CACHE/vmlinuz"
  mv -f "$CACHE/initramfs.cpio.gz.tmp" "$CACHE/initramfs.cpio.gz"
  echo "$stamp" >"$CACHE/initramfs.stamp"
  say "initramfs $(du -h "$CACHE/initramfs.cpio.gz" | cut -f1) built in $(elapsed "$t0") s"
}

# --- the lab share ------------------------------------------------------------------------------

# Boot and helper scripts onto the share (cheap; done by up and by the commands that use them, so
# an edited script reaches running guests without a reboot).
refresh_share() {
  local n
  mkdir -p "$SHARE/bin" "$SHARE/mbox" "$SHARE/fence"/{req,res,tmp} "$SHARE/cluster" "$SHARE/dist" "$SHARE/ocf/ocfkit"
  for f in stage2 agent fence_ocfkit_lab cluster-node install-dist drbd-lab bench-monitor nfs-writer kv-writer; do
    cp "$here/guest/$f" "$SHARE/bin/.$f.tmp"
    mv -f "$SHARE/bin/.$f.tmp" "$SHARE/bin/$f"
  done
  mv -f "$SHARE/bin/stage2" "$SHARE/stage2"
  for n in node1 node2 client; do echo "${IP[$n]} $n"; done >"$SHARE/hosts"
  write_cluster_files
}

# dist/ocfkit onto the share (under a new inode when it changed) with its sha256 in ocfkit.id, and
# ocf:ocfkit:* symlinks for every agent it has, pointing to the guests' RAM copy /opt/ocfkit/ocfkit
# (guest/install-dist makes it at boot; here for the guests already up). A guest never runs the
# project's binary through the cached root share, where a rebuilt file can stay stale.
sync_dist() {
  local src=$top/dist/ocfkit a agents n
  mkdir -p "$SHARE/dist" "$SHARE/ocf/ocfkit"
  if [ ! -x "$src" ]; then
    say "warning: no $src (npm run build): ocf:ocfkit:* is missing in the guests"
    return 0
  fi
  if ! cmp -s "$src" "$SHARE/dist/ocfkit" || [ ! -s "$SHARE/dist/ocfkit.id" ]; then
    cp "$src" "$SHARE/dist/.ocfkit.tmp"
    sha256sum "$SHARE/dist/.ocfkit.tmp" | cut -d' ' -f1 >"$SHARE/dist/.ocfkit.id.tmp"
    mv -f "$SHARE/dist/.ocfkit.tmp" "$SHARE/dist/ocfkit"
    mv -f "$SHARE/dist/.ocfkit.id.tmp" "$SHARE/dist/ocfkit.id"
  fi
  agents=$(env -u NODE_OPTIONS "$src" agents) || { say "warning: $src agents failed: no ocf:ocfkit:* in the guests"; return 0; }
  # The static drop-ins and their wrapper as the package installs them (guest/install-dist puts them in place).
  rm -rf "$SHARE/units.tmp"
  env -u NODE_OPTIONS "$src" install-nfs-units /usr/lib/systemd/system /usr/lib/ocfkit "$SHARE/units.tmp" >/dev/null || { say "warning: $src install-nfs-units failed: no static NFS drop-ins in the guests"; rm -rf "$SHARE/units.tmp"; }
  if [ -d "$SHARE/units.tmp" ]; then rm -rf "$SHARE/units" && mv "$SHARE/units.tmp" "$SHARE/units"; fi
  find "$SHARE/ocf/ocfkit" -mindepth 1 -delete
  for a in $agents; do ln -s /opt/ocfkit/ocfkit "$SHARE/ocf/ocfkit/$a"; done
  for n in $(run_nodes); do
    qemu_pid "$n" >/dev/null && [ -s "$SHARE/mbox/$n/boot" ] || continue
    cmd_exec -t 120 "$n" bash /lab/bin/install-dist || die "could not install dist/ocfkit in $n"
  done
}

# --- guests -------------------------------------------------------------------------------------

# start_switch NAME: vde (the main link) or repl (the replication link).
start_switch() {
  local sw=$1 i
  if live_pid "$RUN/$sw.pid" "$RUN/$sw.ctl" >/dev/null; then return 0; fi
  rm -rf "$RUN/$sw.ctl"
  vde_switch --sock "$RUN/$sw.ctl" --mode 600 --dirmode 700 --mgmt "$RUN/$sw.mgmt" \
    --daemon --pidfile "$RUN/$sw.pid" </dev/null >"$RUN/$sw.log" 2>&1 {lockfd}>&- ||
    die "vde_switch ($sw) failed: $(cat "$RUN/$sw.log")"
  for i in $(seq 1 50); do [ -S "$RUN/$sw.ctl/ctl" ] && return 0; sleep 0.1; done
  die "vde_switch did not create $RUN/$sw.ctl/ctl"
}

start_fence_helper() {
  if live_pid "$RUN/fence-helper.pid" fence-helper >/dev/null; then return 0; fi
  setsid bash "$self" fence-helper </dev/null >>"$RUN/fence-helper.log" 2>&1 {lockfd}>&- &
  echo $! >"$RUN/fence-helper.pid"
}

start_guest() {
  local node=$1 nd=$RUN/$1 mem=$LAB_MEM smp=$LAB_SMP
  local -a disk=() repl=()
  local append="console=ttyS0 quiet panic=-1 lab.node=$node lab.ip=${IP[$node]}"
  # net.ifnames=0: udev keeps the names stage2 configured (eth0, eth1).
  [ "$LAB_INIT" = systemd ] && append+=" lab.init=systemd net.ifnames=0 systemd.show_status=0"
  if qemu_pid "$node" >/dev/null; then return 0; fi
  mkdir -p "$nd" "$SHARE/mbox/$node"/{req,run,out,tmp}
  rm -f "$SHARE/mbox/$node/boot" "$nd/qemu.pid" "$nd/console.sock" "$nd/qmp.sock"
  if [ "$node" = client ]; then
    mem=$LAB_CLIENT_MEM smp=1
  else
    [ -e "$nd/disk.img" ] || truncate -s "${LAB_DISK_MB}M" "$nd/disk.img"
    disk=(-drive "file=$nd/disk.img,if=virtio,format=raw,cache=unsafe")
    # After the main link's device: the guest names it eth1.
    repl=(-netdev "vde,id=n1,sock=$RUN/repl.ctl" -device "virtio-net-pci,netdev=n1,mac=${REPL_MAC[$node]}")
    append+=" lab.repl=${REPL_IP[$node]}"
  fi
  qemu-system-x86_64 -name "lab-$node" \
    -accel "tcg,tb-size=$LAB_TB_MB" -cpu max -smp "$smp" -m "$mem" \
    -nodefaults -no-user-config -display none \
    -kernel "$CACHE/vmlinuz" -initrd "$CACHE/initramfs.cpio.gz" \
    -append "$append" \
    -chardev "socket,id=con0,path=$nd/console.sock,server=on,wait=off,logfile=$nd/console.log,logappend=on" \
    -serial chardev:con0 \
    -qmp "unix:$nd/qmp.sock,server=on,wait=off" \
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
    -virtfs "local,path=$SHARE,mount_tag=lab,security_model=none,multidevs=remap" \
    "${disk[@]}" \
    -netdev "vde,id=n0,sock=$RUN/vde.ctl" -device "virtio-net-pci,netdev=n0,mac=${MAC[$node]}" \
    "${repl[@]}" \
    -device virtio-rng-pci \
    -device virtio-serial-pci -chardev "socket,id=bell,path=$nd/bell.sock,server=on,wait=off" \
    -device virtserialport,chardev=bell,name=lab.bell \
    -pidfile "$nd/qemu.pid" -daemonize </dev/null >"$nd/qemu.log" 2>&1 {lockfd}>&- ||
    die "qemu for $node did not start: $(cat "$nd/qemu.log")"
  start_bell "$node"
  grep -qx "$node" "$RUN/nodes" 2>/dev/null || echo "$node" >>"$RUN/nodes"
}

# The doorbell: exec writes a byte to NODE's bell.fifo after each request; this socat, connected to
# the guest's virtio-serial port lab.bell for as long as the qemu runs, passes it on, and the
# guest's agent wakes at once instead of polling the uncached share (a directory listing over 9p
# costs the guest ~7 ms of TCG time: 7 % of its CPU at ten a second). A new qemu gets a new socat.
start_bell() {
  local nd=$RUN/$1 pid
  if pid=$(live_pid "$nd/bell.pid" "$nd/bell.sock"); then kill "$pid" 2>/dev/null || :; fi
  [ -p "$nd/bell.fifo" ] || mkfifo "$nd/bell.fifo"
  setsid socat -u "OPEN:$nd/bell.fifo,rdwr" "UNIX-CONNECT:$nd/bell.sock" </dev/null >>"$nd/bell.log" 2>&1 {lockfd}>&- &
  echo $! >"$nd/bell.pid"
}

# ring NODE: wakes NODE's agent. Opening the FIFO read-write never blocks, with or without socat.
ring() {
  local fd
  exec {fd}<>"$RUN/$1/bell.fifo" || return 0
  printf x >&"$fd" || :
  exec {fd}>&-
}

console_tail() { # NODE [LOGDIR [LINES]]: the archived copy in LOGDIR if there is one
  local f=${2:-/nonexistent}/$1.console.log
  [ -s "$f" ] || f=$RUN/$1/console.log
  [ -s "$f" ] || return 0
  echo "----- last lines of $1's console ($f)" >&2
  tail -n "${3:-40}" "$f" | tr -d '\r' >&2
}

# wait_ready NODE SECS: until NODE's agent published its boot and a command round trip works.
wait_ready() {
  local node=$1 secs=$2 end
  end=$((SECONDS + secs))
  until [ -s "$SHARE/mbox/$node/boot" ]; do
    qemu_pid "$node" >/dev/null || { console_tail "$node"; die "$node's qemu exited while booting"; }
    if ((SECONDS >= end)); then
      console_tail "$node"
      die "timed out after ${secs}s waiting for $node to boot (console: $RUN/$node/console.log)"
    fi
    sleep 0.2
  done
  cmd_exec -t 60 "$node" true || die "$node booted but does not run commands"
}

# --- exec ---------------------------------------------------------------------------------------

cmd_exec() {
  local limit=$LAB_EXEC_TIMEOUT node id m boot now_boot pid end rc i=0 tick nap=0.03
  if [ "${1:-}" = -t ]; then
    limit=${2:?}
    shift 2
  fi
  [ $# -ge 2 ] || usage
  node=$1
  shift
  known_node "$node"
  m=$SHARE/mbox/$node
  pid=$(qemu_pid "$node") || die "$node is not running (lab.sh up)"
  read -r boot <"$m/boot" 2>/dev/null || die "$node is not ready (booting? lab.sh wait $node)"
  id=${EPOCHREALTIME/./}.$$.$RANDOM
  printf '%s\0' "$limit" "$@" >"$m/tmp/$id"
  mv "$m/tmp/$id" "$m/req/$id"
  ring "$node" 2>/dev/null
  end=$((SECONDS + limit + 20))
  # The wait forks nothing (the host's cores run the guests): read -t on a FIFO opened read-write
  # sleeps, and the guest's liveness is checked once a second. Short sleeps first: most commands
  # answer within a second.
  tick=$RUN/tick
  [ -p "$tick" ] || mkfifo "$tick" 2>/dev/null || :
  until [ -e "$m/out/$id.rc" ]; do
    if ((++i % 10 == 0)); then
      now_boot=''
      read -r now_boot <"$m/boot" 2>/dev/null || :
      if [ "$now_boot" != "$boot" ] || [ ! -e "/proc/$pid" ]; then
        rm -f "$m/req/$id"
        die "$node went down or rebooted while running: $*"
      fi
      if ((SECONDS >= end)); then
        rm -f "$m/req/$id"
        die "no answer from $node within $((limit + 20))s for: $*"
      fi
    fi
    ((i < 20)) || nap=0.1
    read -r -t "$nap" <>"$tick" || :
  done
  cat "$m/out/$id.out"
  cat "$m/out/$id.err" >&2
  read -r rc <"$m/out/$id.rc"
  rm -f "$m/out/$id.out" "$m/out/$id.err" "$m/out/$id.rc"
  return "$rc"
}

# Fire and forget (used by down: the guest may be gone before it could answer).
post() {
  local node=$1 m=$SHARE/mbox/$1 id
  shift
  [ -d "$m/req" ] || return 0
  id=$(date +%s%N).$$.$RANDOM
  printf '%s\0' 30 "$@" >"$m/tmp/$id" && mv "$m/tmp/$id" "$m/req/$id"
  ring "$node" 2>/dev/null
}

# --- QMP and the fence helper -------------------------------------------------------------------

# qmp_json NODE JSON...: sends whole QMP messages to NODE's qemu; prints the replies.
qmp_json() {
  local node=$1 c
  shift
  {
    echo '{"execute":"qmp_capabilities"}'
    for c in "$@"; do echo "$c"; done
  } | timeout 10 socat -t 0.5 - "UNIX-CONNECT:$RUN/$node/qmp.sock" 2>&1
}

# qmp NODE CMD...: QMP commands without arguments.
qmp() {
  local node=$1 c
  local -a msgs=()
  shift
  for c in "$@"; do msgs+=("{\"execute\":\"$c\"}"); done
  qmp_json "$node" "${msgs[@]}"
}

qmp_status() { # prints running, paused, ... or "gone"
  local out
  qemu_pid "$1" >/dev/null || { echo gone; return 0; }
  out=$(qmp "$1" query-status) || { echo gone; return 0; }
  sed -n 's/.*"status": *"\([a-z-]*\)".*/\1/p' <<<"$out" | head -n 1
}

fence_log() { echo "$(date '+%F %T') $*"; }

# fence_act ACTION TARGET: prints "RC MESSAGE" for the agent.
fence_act() {
  local action=$1 target=$2 st
  case $action in
  ping) echo "0 ok"; return ;;
  list) echo "0 $(run_nodes | tr '\n' ' ')"; return ;;
  esac
  if [ -z "${IP[$target]:-}" ] || ! grep -qx -- "$target" "$RUN/nodes" 2>/dev/null; then
    echo "1 unknown target $target"
    return
  fi
  st=$(qmp_status "$target")
  case $action in
  status)
    case $st in running) echo "0 on" ;; *) echo "0 off" ;; esac ;;
  off)
    [ "$st" = gone ] && { echo "0 off"; return; }
    rm -f "$SHARE/mbox/$target/boot"
    qmp "$target" stop >/dev/null
    [ "$(qmp_status "$target")" != running ] && echo "0 off" || echo "1 $target still running after stop"
    ;;
  on | reboot)
    if [ "$st" = gone ]; then
      # Power back on: a fresh qemu with the same disk (the guest boots from scratch).
      if (start_guest "$target") >/dev/null 2>&1 && qemu_pid "$target" >/dev/null; then
        echo "0 on (its qemu was gone: started again)"
      else
        echo "1 $target has no qemu and a new one did not start"
      fi
      return
    fi
    rm -f "$SHARE/mbox/$target/boot"
    qmp "$target" system_reset cont >/dev/null
    [ "$(qmp_status "$target")" = running ] && echo "0 on" || echo "1 $target is not running after reset"
    ;;
  *) echo "1 unsupported action $action" ;;
  esac
}

cmd_fence_helper() {
  local me=$BASHPID f id action target from res owner
  fence_log "fence helper $me started"
  [ -p "$RUN/tick" ] || mkfifo "$RUN/tick" 2>/dev/null || :
  # Forks nothing while idle (read, not cat; read -t on the FIFO, not sleep): it runs all along.
  while [ -d "$SHARE/fence/req" ] && owner='' && { read -r owner <"$RUN/fence-helper.pid"; } 2>/dev/null && [ "$owner" = "$me" ]; do
    for f in "$SHARE/fence/req"/*; do
      [ -e "$f" ] || continue
      id=${f##*/}
      read -r action target from <"$f" || true
      rm -f "$f"
      res=$(fence_act "$action" "$target")
      fence_log "$from asked $action $target -> $res"
      echo "$res" >"$SHARE/fence/tmp/$id"
      mv -f "$SHARE/fence/tmp/$id" "$SHARE/fence/res/$id"
    done
    read -r -t 0.2 <>"$RUN/tick" || :
  done
  fence_log "fence helper $me stops"
}

# --- cluster ------------------------------------------------------------------------------------

# corosync_conf NAME NODE...: the lab's corosync.conf for a cluster of NODEs (two_node with two).
corosync_conf() {
  local name=$1 n i=0
  shift
  cat <<EOF
totem {
    version: 2
    cluster_name: $name
    transport: knet
    crypto_cipher: none
    crypto_hash: none
    token: $LAB_TOKEN_MS
}
nodelist {
EOF
  for n in "$@"; do
    i=$((i + 1))
    cat <<EOF
    node {
        ring0_addr: ${IP[$n]}
        name: $n
        nodeid: $i
    }
EOF
  done
  printf '}\nquorum {\n    provider: corosync_votequorum\n'
  [ $# = 2 ] && printf '    two_node: 1\n'
  cat <<'EOF'
}
logging {
    to_logfile: yes
    logfile: /var/log/corosync/corosync.log
    to_stderr: no
    to_syslog: no
    timestamp: on
}
EOF
}

# seed_cib NAME STONITH RESOURCES: a CIB accepted without cib.xml.sig. dc-deadtime 5s: the DC is
# elected soon after the controllers are up; op timeout 120s: TCG is slow (a start alone takes
# seconds in a guest).
seed_cib() {
  local stonith_timeout=''
  [ "$2" = true ] && stonith_timeout='
        <nvpair id="cib-bootstrap-options-stonith-timeout" name="stonith-timeout" value="120s"/>'
  cat <<EOF
<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="cib-bootstrap-options-stonith-enabled" name="stonith-enabled" value="$2"/>$stonith_timeout
        <nvpair id="cib-bootstrap-options-dc-deadtime" name="dc-deadtime" value="5s"/>
        <nvpair id="cib-bootstrap-options-cluster-recheck-interval" name="cluster-recheck-interval" value="1min"/>
        <nvpair id="cib-bootstrap-options-cluster-name" name="cluster-name" value="$1"/>
      </cluster_property_set>
    </crm_config>
    <nodes/>
    <resources>$3
    </resources>
    <constraints/>
    <op_defaults>
      <meta_attributes id="op_defaults-meta_attributes">
        <nvpair id="op_defaults-meta_attributes-timeout" name="timeout" value="120s"/>
      </meta_attributes>
    </op_defaults>
  </configuration>
  <status/>
</cib>
EOF
}

# The two-node cluster: stonith on, with the lab fence device.
write_cluster_files() {
  local c=$SHARE/cluster
  mkdir -p "$c"
  corosync_conf ocfkit-lab "${CLUSTER_NODES[@]}" >"$c/corosync.conf"
  seed_cib ocfkit-lab true "
      <primitive id=\"fence-lab\" class=\"stonith\" type=\"fence_ocfkit_lab\">
        <instance_attributes id=\"fence-lab-instance_attributes\">
          <nvpair id=\"fence-lab-instance_attributes-pcmk_host_list\" name=\"pcmk_host_list\" value=\"${CLUSTER_NODES[*]}\"/>
        </instance_attributes>
        <operations>
          <op id=\"fence-lab-monitor-interval-60s\" name=\"monitor\" interval=\"60s\" timeout=\"60s\"/>
        </operations>
      </primitive>" >"$c/cib.xml"
}

# Site mode (issue 17's lab proof): each of node1 and node2 is a one-node cluster of its own, site a
# and site b, with nothing to fence (the other site is another cluster; tickets decide between them).
declare -A SITE=([node1]=a [node2]=b)

write_site_files() {
  local n d
  for n in "${CLUSTER_NODES[@]}"; do
    d=$SHARE/cluster/site-$n
    mkdir -p "$d" "$SHARE/persist/$n/pacemaker" "$SHARE/persist/$n/ocfkit"
    corosync_conf "site-${SITE[$n]}" "$n" >"$d/corosync.conf"
    seed_cib "site-${SITE[$n]}" false '' >"$d/cib.xml"
  done
}

# Both sites' clusters, each node on its own; the CIB and /var/lib/ocfkit of each are kept in the
# share, so a site that loses power comes back with its configuration and drbd-promote's records.
# Each guest finds its own site's files by its host name.
cmd_sites() {
  local t0
  t0=$(now)
  cluster_nodes_up "(lab.sh up, or lab.sh start NODE)"
  write_site_files
  on_cluster_nodes bash -c 'exec bash /lab/bin/cluster-node start-corosync "/lab/cluster/site-$(hostname)" "/lab/persist/$(hostname)"' ||
    die "corosync did not start"
  on_cluster_nodes bash /lab/bin/cluster-node wait-quorate 120 || die "corosync did not become quorate"
  on_cluster_nodes bash /lab/bin/cluster-node start-pacemaker || die "pacemakerd did not start"
  on_cluster_nodes bash -c 'exec bash /lab/bin/cluster-node wait-online "$1" --no-fence "$(hostname)"' - "$((LAB_CLUSTER_TIMEOUT - 10))" ||
    die "a site's cluster did not come online (lab.sh logs)"
  say "sites online (a: node1, b: node2, one-node clusters) after $(elapsed "$t0") s"
}

cmd_start() {
  local node=${1:-}
  [ -n "$node" ] || usage
  known_node "$node"
  if qemu_pid "$node" >/dev/null; then
    say "$node: already running"
  else
    start_guest "$node"
  fi
  wait_ready "$node" "$LAB_BOOT_TIMEOUT"
  say "$node: powered on and answering"
}

# run "$@" on every cluster node at once; fails if any fails (all outputs shown, prefixed).
on_cluster_nodes() {
  local n pids=() rc=0 i=0
  for n in "${CLUSTER_NODES[@]}"; do
    (cmd_exec -t "$LAB_CLUSTER_TIMEOUT" "$n" "$@" 2>&1 | sed "s/^/$n: /" >&2; exit "${PIPESTATUS[0]}") &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || rc=1; done
  return $rc
}

# cluster_nodes_up HINT: every cluster node running and answering (dies with HINT if one is not), the share fresh.
cluster_nodes_up() {
  local n
  for n in "${CLUSTER_NODES[@]}"; do
    qemu_pid "$n" >/dev/null || die "$n is not running $1"
    [ -s "$SHARE/mbox/$n/boot" ] || wait_ready "$n" "$LAB_BOOT_TIMEOUT"
  done
  refresh_share
}

cmd_cluster() {
  local t0
  t0=$(now)
  cluster_nodes_up "(lab.sh up)"
  on_cluster_nodes bash /lab/bin/cluster-node start-corosync || die "corosync did not start"
  on_cluster_nodes bash /lab/bin/cluster-node wait-quorate 120 || die "corosync did not become quorate"
  say "corosync quorate on ${CLUSTER_NODES[*]} after $(elapsed "$t0") s"
  on_cluster_nodes bash /lab/bin/cluster-node start-pacemaker || die "pacemakerd did not start"
  cmd_exec -t $((LAB_CLUSTER_TIMEOUT + 10)) node1 bash /lab/bin/cluster-node wait-online "$LAB_CLUSTER_TIMEOUT" \
    "${CLUSTER_NODES[@]}" || die "the cluster did not come online (lab.sh logs)"
  say "cluster online (${CLUSTER_NODES[*]}, quorum, fence-lab started) after $(elapsed "$t0") s"
}

# --- up / down / status -------------------------------------------------------------------------

# The lock's fd must not leak into the daemons (qemu, vde_switch, the fence helper): they close it
# with {lockfd}>&- where they are started (a /dev/null fd until lock is taken).
exec {lockfd}</dev/null
lock() {
  mkdir -p "$LAB_DIR"
  exec {lockfd}>"$LAB_DIR/.lock"
  flock -w 600 "$lockfd" || die "another lab.sh up/down holds $LAB_DIR/.lock"
}

cmd_up() {
  local nodes=(node1 node2) t0 n ok=1
  while [ $# -gt 0 ]; do
    case $1 in
    --client) nodes+=(client) ;;
    *) usage ;;
    esac
    shift
  done
  check_tools
  lock
  t0=$(now)
  # Already up and answering: keep it (start only what is missing, e.g. the client).
  if [ -d "$RUN" ]; then
    for n in $(run_nodes); do
      qemu_pid "$n" >/dev/null && [ -s "$SHARE/mbox/$n/boot" ] || ok=0
    done
    live_pid "$RUN/vde.pid" "$RUN/vde.ctl" >/dev/null || ok=0
    live_pid "$RUN/repl.pid" "$RUN/repl.ctl" >/dev/null || ok=0
    if [ "$ok" = 0 ]; then
      say "removing a stale lab in $RUN"
      down_locked
    fi
  fi
  build_initramfs
  mkdir -p "$RUN"
  refresh_share
  sync_dist
  start_switch vde
  start_switch repl
  start_fence_helper
  for n in "${nodes[@]}"; do start_guest "$n"; done
  for n in "${nodes[@]}"; do wait_ready "$n" "$LAB_BOOT_TIMEOUT"; done
  say "guests ready (${nodes[*]}) after $(elapsed "$t0") s"
}

# collect_logs DIR: console logs, and from every guest that answers: dmesg and its cluster logs.
collect_logs() {
  local dir=$1 n
  mkdir -p "$dir"
  for n in $(run_nodes); do
    [ -s "$RUN/$n/console.log" ] && tr -d '\r' <"$RUN/$n/console.log" >"$dir/$n.console.log"
    if qemu_pid "$n" >/dev/null && [ -s "$SHARE/mbox/$n/boot" ]; then
      cmd_exec -t 20 "$n" bash -c 'dmesg; if [ -d /run/systemd/system ]; then echo "===== journal"; journalctl -b --no-pager -o short-monotonic | tail -n 5000; fi; for f in /var/log/lab-agent.log /var/log/corosync/corosync.log /var/log/pacemaker/pacemaker.log /var/log/pacemaker/pacemakerd.out; do [ -s "$f" ] || continue; echo "===== $f"; tail -n 2000 "$f"; done' \
        >"$dir/$n.guest.log" 2>&1 &
    fi
  done
  [ -s "$RUN/fence-helper.log" ] && cp "$RUN/fence-helper.log" "$dir/"
  # Every boot's kernel messages, a killed guest's too (stage2 streams /dev/kmsg onto the share).
  for n in "$SHARE"/kmsg/*.kmsg; do [ -s "$n" ] && cp "$n" "$dir/"; done
  wait || true
}

down_locked() {
  local purge=${1:-0} show=${2:-0} n pid end stamp dir any
  if [ -d "$RUN" ]; then
    stamp=$(date +%Y%m%d-%H%M%S)
    dir=$LOGS/$stamp
    collect_logs "$dir" || true
    for n in $(run_nodes); do
      qemu_pid "$n" >/dev/null || continue
      if [ "$(qmp_status "$n")" = running ]; then
        post "$n" /bin/sh -c '[ -d /run/systemd/system ] && exec systemctl poweroff; exec /bin/busybox poweroff'
      else
        qmp "$n" quit >/dev/null || true # paused (fenced off) or stuck: nothing would answer
      fi
    done
    end=$((SECONDS + 15))
    while ((SECONDS < end)); do
      any=0
      for n in $(run_nodes); do qemu_pid "$n" >/dev/null && any=1; done
      [ "$any" = 1 ] || break
      sleep 0.2
    done
    for n in $(run_nodes); do
      qemu_pid "$n" >/dev/null || continue
      say "$n did not power off: qmp quit"
      qmp "$n" quit >/dev/null || true
    done
    for n in $(run_nodes); do
      end=$((SECONDS + 10))
      while pid=$(qemu_pid "$n") && ((SECONDS < end)); do sleep 0.2; done
      if pid=$(qemu_pid "$n"); then
        say "$n still runs: kill -9 $pid"
        kill -9 "$pid" 2>/dev/null || true
      fi
    done
    # Anything else of this run that still holds the run dir open (by pid, never by name).
    if pid=$(live_pid "$RUN/fence-helper.pid" fence-helper); then kill "$pid" 2>/dev/null || true; fi
    for n in vde repl; do
      if pid=$(live_pid "$RUN/$n.pid" "$RUN/$n.ctl"); then kill "$pid" 2>/dev/null || true; fi
    done
    for pid in /proc/[0-9]*; do
      pid=${pid#/proc/}
      if [ "$pid" = $$ ] || [ "$pid" = "$BASHPID" ]; then continue; fi
      cmdline_has "$pid" "$RUN/" || continue
      case $(cat "/proc/$pid/comm" 2>/dev/null) in
      qemu-system-x86 | vde_switch | socat) kill -9 "$pid" 2>/dev/null || true ;;
      esac
    done
    if [ "$show" = 1 ]; then
      for n in $(run_nodes); do console_tail "$n" "$dir" 60; done
    fi
    rm -rf "$RUN"
    # Keep the last 5 runs' logs.
    ls -1d "$LOGS"/*/ 2>/dev/null | sort | head -n -5 | xargs -r rm -rf
    say "down; logs kept in $dir"
  fi
  if [ "$purge" = 1 ]; then
    rm -rf "$CACHE" "$LOGS"
    say "purged $CACHE and $LOGS"
  fi
}

cmd_down() {
  local purge=0 show=0
  while [ $# -gt 0 ]; do
    case $1 in
    --purge) purge=1 ;;
    --show-logs) show=1 ;;
    *) usage ;;
    esac
    shift
  done
  lock
  down_locked "$purge" "$show"
  if [ "$purge" = 1 ]; then rm -f "$LAB_DIR/.lock"; rmdir "$LAB_DIR" 2>/dev/null || true; fi
}

cmd_status() {
  local n pid st rss t0
  [ -d "$RUN" ] || { echo "lab: down"; return 0; }
  printf '%-7s %-8s %-9s %-9s %s\n' node pid qemu rss_MiB mailbox
  for n in $(run_nodes); do
    pid=$(qemu_pid "$n" || echo -)
    st=$(qmp_status "$n")
    rss=-
    [ "$pid" = - ] || rss=$(($(awk '/VmRSS/ {print $2}' "/proc/$pid/status") / 1024))
    if [ -s "$SHARE/mbox/$n/boot" ]; then
      t0=$(now)
      if cmd_exec -t 20 "$n" true 2>/dev/null; then st2="answers in $(elapsed "$t0") s"; else st2="no answer"; fi
    else
      st2="not ready"
    fi
    printf '%-7s %-8s %-9s %-9s %s\n' "$n" "$pid" "$st" "$rss" "$st2"
  done
  echo "vde_switch: $(live_pid "$RUN/vde.pid" "$RUN/vde.ctl" || echo 'not running')"
  echo "vde_switch (replication): $(live_pid "$RUN/repl.pid" "$RUN/repl.ctl" || echo 'not running')"
  echo "fence helper: $(live_pid "$RUN/fence-helper.pid" fence-helper || echo 'not running')"
}

cmd_kill() {
  local node=${1:-} pid i
  [ -n "$node" ] || usage
  known_node "$node"
  pid=$(qemu_pid "$node") || die "$node is not running"
  kill -9 "$pid"
  for i in $(seq 1 50); do qemu_pid "$node" >/dev/null || break; sleep 0.1; done
  qemu_pid "$node" >/dev/null && die "$node's qemu ($pid) survived SIGKILL"
  rm -f "$SHARE/mbox/$node/boot"
  say "$node: power cut (qemu $pid killed)"
}

cmd_link() {
  local node=${1:-} link=${2:-} state=${3:-} id up out
  [ -n "$node" ] && [ -n "$state" ] || usage
  known_node "$node"
  case $link in
  main) id=n0 ;;
  repl) [ -n "${REPL_IP[$node]:-}" ] || die "$node has no replication link"; id=n1 ;;
  *) usage ;;
  esac
  case $state in up) up=true ;; down) up=false ;; *) usage ;; esac
  qemu_pid "$node" >/dev/null || die "$node is not running"
  out=$(qmp_json "$node" "{\"execute\":\"set_link\",\"arguments\":{\"name\":\"$id\",\"up\":$up}}") ||
    die "QMP set_link on $node failed: $out"
  grep -q '"error"' <<<"$out" && die "QMP set_link on $node: $out"
  say "$node: $link link $state"
}

cmd_shell() {
  local node=${1:-}
  [ -n "$node" ] || usage
  known_node "$node"
  qemu_pid "$node" >/dev/null || die "$node is not running"
  if [ -t 0 ]; then
    say "serial console of $node: a root shell (press Enter for a prompt; Ctrl-] leaves)"
    exec socat -,raw,echo=0,escape=0x1d "UNIX-CONNECT:$RUN/$node/console.sock"
  fi
  # No terminal: one command per input line, through the mailbox.
  local line
  while IFS= read -r line; do
    cmd_exec "$node" bash -c "$line" || echo "[exit $?]" >&2
  done
}

cmd_bench_up() {
  local keep=0 t0 t_ready t_online
  [ "${1:-}" = --keep ] && keep=1
  bash "$self" down >/dev/null 2>&1 || true
  t0=$(now)
  bash "$self" up >&2
  t_ready=$(elapsed "$t0")
  bash "$self" cluster >&2
  t_online=$(elapsed "$t0")
  printf '{"bench":"lab-up","guests_ready_s":%s,"cluster_online_s":%s,"host_qemu_rss_mib":%s}\n' \
    "$t_ready" "$t_online" "$(qemu_rss_total)"
  [ "$keep" = 1 ] || bash "$self" down >&2
}

qemu_rss_total() {
  local n pid sum=0
  for n in $(run_nodes); do
    pid=$(qemu_pid "$n") || continue
    sum=$((sum + $(awk '/VmRSS/ {print $2}' "/proc/$pid/status")))
  done
  echo $((sum / 1024))
}

main() {
  local cmd=${1:-}
  [ $# -gt 0 ] && shift
  case $cmd in
  up) cmd_up "$@" ;;
  down) cmd_down "$@" ;;
  exec) cmd_exec "$@" ;;
  cluster) cmd_cluster "$@" ;;
  sites) cmd_sites "$@" ;;
  start) cmd_start "$@" ;;
  wait)
    [ $# -ge 1 ] || usage
    known_node "$1"
    wait_ready "$1" "${2:-$LAB_BOOT_TIMEOUT}"
    ;;
  sync-dist)
    [ -d "$SHARE" ] || die "the lab is down"
    refresh_share
    sync_dist
    ;;
  status) cmd_status ;;
  kill) cmd_kill "$@" ;;
  link) cmd_link "$@" ;;
  shell) cmd_shell "$@" ;;
  logs) collect_logs "${1:-$LOGS/$(date +%Y%m%d-%H%M%S)}" ;;
  bench-up) cmd_bench_up "$@" ;;
  fence-helper) cmd_fence_helper ;;
  -h | --help | help | '') usage ;;
  *) usage ;;
  esac
}
main "$@"
