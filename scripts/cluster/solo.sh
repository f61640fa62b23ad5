#!/usr/bin/env bash
# A one-node Corosync + Pacemaker cluster inside private namespaces, with ocf:ocfkit:* installed,
# that leaves the host's own cluster configuration, /run, /dev/shm and hostname alone.
#
#   scripts/cluster/solo.sh up   STATE_DIR        start the node; returns once it is DC and online
#   scripts/cluster/solo.sh exec STATE_DIR CMD... run CMD inside the node (pcs, crm_mon, ip ...)
#   scripts/cluster/solo.sh down STATE_DIR        stop it, delete its namespace and STATE_DIR
#
# Environment (read by up; exec and down read what up recorded in STATE_DIR):
#   SOLO_NS       network namespace name (default ocfkit-solo); up refuses if it already exists
#   SOLO_NODE     node name and hostname inside the node (default solo)
#   SOLO_TIMEOUT  seconds up waits for a DC with the node online (default 60)
#
# The node lives in `ip netns exec NS unshare --uts --mount --propagation private`: a network
# namespace (lo, plus a veth pair svc0 192.0.2.1/24 <-> svc1 with both ends inside, where a floating
# 192.0.2.x/24 can live), bind mounts from STATE_DIR over /etc/corosync, /var/lib/corosync,
# /var/log/corosync, /var/lib/pacemaker and /var/log/pacemaker, tmpfs on /dev/shm and /run, and the
# ocfkit OCF sandbox (scripts/ocf-sandbox.sh) over /usr/lib/ocf/resource.d. libqb IPC uses abstract
# sockets, which are per network namespace, so pcs/crm_mon only see this cluster through `exec`.
# When the last process of the node exits, its mounts go away with the mount namespace.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
self=$top/scripts/cluster/solo.sh

usage() {
  echo "usage: $0 up|down STATE_DIR | exec STATE_DIR CMD..." >&2
  exit 2
}
say() { echo "solo: $*" >&2; }
die() {
  say "$*"
  exit 1
}

# True while PID runs. A zombie does not count: it has left its namespaces, and PID 1 here may
# take a second to reap it.
running() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

# The pid recorded in FILE if that process is still running and is COMM (guards against pid reuse).
live_pid() {
  local file=$1 comm=$2 pid
  [ -s "$file" ] || return 1
  pid=$(cat "$file")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ] && running "$pid" || return 1
  echo "$pid"
}

# True while the pid recorded for COMM still exists at all, zombie or not.
recorded() {
  local pid
  pid=$(cat "$D/$1.pid" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ]
}

ns_exists() { [ -e "/run/netns/$1" ]; }

# Runs CMD inside the node (network, mount and UTS namespaces of its corosync).
in_node() {
  local pid
  pid=$(live_pid "$D/corosync.pid" corosync) || die "no running corosync recorded in $D (is the node up?)"
  nsenter -t "$pid" -n -m -u "$@"
}

# True when the XPath expression holds on `crm_mon -1 --output-as=xml` taken inside the node.
crm_mon_has() {
  local xml
  xml=$(in_node timeout 15 crm_mon -1 --output-as=xml 2>/dev/null) || return 1
  [ "$(xmllint --xpath "boolean($1)" - <<<"$xml" 2>/dev/null)" = true ]
}

tail_logs() {
  local f
  for f in "$D/node/log-corosync/corosync.log" "$D/node/log-pacemaker/pacemaker.log" \
    "$D/node/log-pacemaker/pacemakerd.stdout" "$D/corosync.stdout" "$D/up.log"; do
    [ -s "$f" ] || continue
    echo "----- tail $f" >&2
    tail -n 25 "$f" >&2
  done
}

# wait_until SECONDS WHAT CMD...: polls CMD (a function or command whose every step is itself
# bounded) until it succeeds; returns 1 after SECONDS.
wait_until() {
  local secs=$1 what=$2 end
  shift 2
  end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= end)); then
      say "timed out after ${secs}s waiting for $what"
      return 1
    fi
    sleep 0.5
  done
}

node_ready() {
  crm_mon_has "//current_dc[@present='true'] and //nodes/node[@name='$NODE' and @online='true']"
}

# --- up ------------------------------------------------------------------------------------------

mkroot() {
  local n=$D/node
  mkdir -p "$n/etc-corosync/uidgid.d" "$n/lib-corosync" "$n/log-corosync" \
    "$n/lib-pacemaker"/{cib,pengine,blackbox,cores,lrm} "$n/log-pacemaker"
  chown -R hacluster:haclient "$n/lib-pacemaker" "$n/log-pacemaker"
  chmod 750 "$n/lib-pacemaker"/{cib,pengine,blackbox,cores}
  chmod 770 "$n/log-pacemaker"

  cat >"$n/etc-corosync/corosync.conf" <<EOF
totem {
    version: 2
    cluster_name: ocfkit-solo
    transport: knet
    crypto_cipher: none
    crypto_hash: none
}
nodelist {
    node {
        ring0_addr: 127.0.0.1
        name: $NODE
        nodeid: 1
    }
}
quorum {
    provider: corosync_votequorum
}
logging {
    to_logfile: yes
    logfile: /var/log/corosync/corosync.log
    to_stderr: no
    to_syslog: no
    timestamp: on
}
EOF

  # Seeded CIB, accepted without cib.xml.sig. dc-deadtime=2s: a node alone does not need to wait the
  # default 20 s for peers before electing itself DC (up in ~5 s instead of ~20 s).
  # stonith-enabled=false: a one-node demo has nobody to fence and nothing that could fence it.
  # Production must fence: without fencing, a node that lost contact keeps its floating address and
  # mounts while another node takes them over (split brain).
  cat >"$D/seed-cib.xml" <<'EOF'
<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="cib-bootstrap-options-stonith-enabled" name="stonith-enabled" value="false"/>
        <nvpair id="cib-bootstrap-options-dc-deadtime" name="dc-deadtime" value="2s"/>
        <nvpair id="cib-bootstrap-options-cluster-recheck-interval" name="cluster-recheck-interval" value="1min"/>
      </cluster_property_set>
    </crm_config>
    <nodes/>
    <resources/>
    <constraints/>
  </configuration>
  <status/>
</cib>
EOF
  install -o hacluster -g haclient -m 600 "$D/seed-cib.xml" "$n/lib-pacemaker/cib/cib.xml"
}

up() {
  NS=${SOLO_NS:-ocfkit-solo}
  NODE=${SOLO_NODE:-solo}
  local limit=${SOLO_TIMEOUT:-60} t0=$SECONDS
  [[ $NS =~ ^[A-Za-z0-9_.-]{1,64}$ ]] || die "SOLO_NS=$NS is not a usable namespace name"
  [[ $NODE =~ ^[a-z0-9][a-z0-9-]{0,62}$ ]] || die "SOLO_NODE=$NODE is not a usable node name"
  [ -x "$top/dist/ocfkit" ] || die "$top/dist/ocfkit is missing: run 'npm run build' first"
  local agents
  agents=$(timeout 20 "$top/dist/ocfkit" agents 2>/dev/null) || agents=''
  grep -qx vip <<<"$agents" || die "$top/dist/ocfkit does not list the vip agent (half-built? run 'npm run build')"
  [ "$(id -u)" = 0 ] || die "needs root (namespaces, mounts, corosync)"
  if [ -e "$D" ] && [ -n "$(ls -A "$D")" ]; then die "$D exists and is not empty"; fi
  if ns_exists "$NS"; then
    die "network namespace $NS already exists (another solo node?): set SOLO_NS or run down on its state dir"
  fi

  mkdir -p "$D"
  # Daemons running as hacluster (the controller asks agents for meta-data) must reach the sandbox.
  chmod 755 "$D"
  : >"$D/.solo"
  echo "$NODE" >"$D/node-name"
  mkroot

  ip netns add "$NS"
  echo "$NS" >"$D/netns" # from here on, down deletes it
  ip -n "$NS" link set lo up
  ip -n "$NS" link add svc0 type veth peer name svc1
  ip -n "$NS" addr add 192.0.2.1/24 dev svc0
  ip -n "$NS" link set svc1 up
  ip -n "$NS" link set svc0 up

  # _enter (bind mounts) -> ocf-sandbox.sh (ocfkit provider) -> _start (corosync, pacemakerd).
  if ! timeout 60 ip netns exec "$NS" unshare --uts --mount --propagation private \
    bash "$self" _enter "$D" bash "$top/scripts/ocf-sandbox.sh" "$D/sandbox" bash "$self" _start "$D" \
    </dev/null >"$D/up.log" 2>&1; then
    cat "$D/up.log" >&2
    tail_logs
    die "starting corosync/pacemakerd in $NS failed; clean up with: $0 down $D"
  fi
  if ! wait_until "$limit" "a DC with $NODE online" node_ready; then
    in_node timeout 15 crm_mon -1 >&2 || true
    tail_logs
    die "the node did not come up; clean up with: $0 down $D"
  fi
  say "node $NODE up in netns $NS after $((SECONDS - t0))s (corosync $(cat "$D/corosync.pid"), pacemakerd $(cat "$D/pacemakerd.pid"))"
}

# Inside the new mount/UTS namespaces: the per-node mounts, then exec the rest of the chain.
_enter() {
  local n=$D/node
  mount --make-rprivate /
  mount --bind "$n/etc-corosync" /etc/corosync
  mount --bind "$n/lib-corosync" /var/lib/corosync
  mount --bind "$n/log-corosync" /var/log/corosync
  mount --bind "$n/lib-pacemaker" /var/lib/pacemaker
  mount --bind "$n/log-pacemaker" /var/log/pacemaker
  mount -t tmpfs -o mode=1777 shm /dev/shm
  mount -t tmpfs -o mode=755 run /run
  mkdir -p /run/crm /run/resource-agents /run/lock
  chown hacluster:haclient /run/crm
  chmod 1755 /run/resource-agents
  hostname "$(cat "$D/node-name")"
  exec "$@"
}

# Inside the node, after the sandbox is mounted: start the daemons, record their pids.
_start() {
  corosync -t >/dev/null 2>&1 || {
    corosync -t
    exit 1
  }
  # Both daemons get /dev/null or files as stdio: nothing keeps the caller's pipes open.
  corosync </dev/null >"$D/corosync.stdout" 2>&1 # daemonizes; pid in /run/corosync.pid
  local end=$((SECONDS + 15))
  until corosync-cfgtool -s >/dev/null 2>&1; do
    ((SECONDS < end)) || {
      echo "corosync did not answer corosync-cfgtool -s within 15s" >&2
      exit 1
    }
    sleep 0.1
  done
  cp /run/corosync.pid "$D/corosync.pid"
  # pacemakerd stays in the foreground in 2.1 (-f is ignored): run it in the background.
  nohup pacemakerd </dev/null >/var/log/pacemaker/pacemakerd.stdout 2>&1 &
  echo $! >"$D/pacemakerd.pid"
}

# --- down ----------------------------------------------------------------------------------------

down() {
  local t0=$SECONDS pid pid2 ns="" pids end failed=0
  if [ ! -e "$D" ]; then
    say "nothing at $D: already down"
    return 0
  fi
  if [ -d "$D" ] && [ -z "$(ls -A "$D")" ]; then
    rmdir "$D" # up failed before creating anything (or was never run on it)
    say "nothing at $D: already down"
    return 0
  fi
  [ -f "$D/.solo" ] || die "$D is not a solo state directory (no .solo marker): not touching it"
  [ -s "$D/netns" ] && ns=$(cat "$D/netns")

  if pid=$(live_pid "$D/corosync.pid" corosync); then
    # Stops the resources first (so the vip agent removes its address), then every pacemaker daemon.
    if pid2=$(live_pid "$D/pacemakerd.pid" pacemakerd); then
      if timeout 60 nsenter -t "$pid" -n -m -u pacemakerd --shutdown >/dev/null 2>&1; then
        end=$((SECONDS + 30))
        while running "$pid2" && ((SECONDS < end)); do sleep 0.2; done
      else
        say "pacemakerd --shutdown failed or timed out"
      fi
    fi
    if timeout 20 nsenter -t "$pid" -n -m -u corosync-cfgtool -H >/dev/null 2>&1; then
      # -H returns once corosync has been asked; it exits a moment later.
      end=$((SECONDS + 15))
      while running "$pid" && ((SECONDS < end)); do sleep 0.2; done
    else
      say "corosync-cfgtool -H failed or timed out"
    fi
  fi

  # Whatever is left: the recorded daemons plus every process in the node's network namespace.
  leftovers() {
    local p
    {
      live_pid "$D/corosync.pid" corosync || true
      live_pid "$D/pacemakerd.pid" pacemakerd || true
      if [ -n "$ns" ]; then ip netns pids "$ns" 2>/dev/null || true; fi
    } | sort -un | while read -r p; do
      if running "$p"; then echo "$p"; fi
    done
  }
  mapfile -t pids < <(leftovers)
  if ((${#pids[@]})); then
    say "terminating leftover processes: ${pids[*]}"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    end=$((SECONDS + 10))
    while [ -n "$(leftovers)" ] && ((SECONDS < end)); do sleep 0.2; done
    mapfile -t pids < <(leftovers)
    if ((${#pids[@]})); then
      say "killing: ${pids[*]}"
      kill -KILL "${pids[@]}" 2>/dev/null || true
      end=$((SECONDS + 5))
      while [ -n "$(leftovers)" ] && ((SECONDS < end)); do sleep 0.2; done
      mapfile -t pids < <(leftovers)
      if ((${#pids[@]})); then
        say "still running after SIGKILL: ${pids[*]}"
        failed=1
      fi
    fi
  fi

  if [ -n "$ns" ] && ns_exists "$ns"; then
    ip netns del "$ns" || {
      say "could not delete network namespace $ns"
      failed=1
    }
  fi
  # Exited daemons stay zombies until PID 1 reaps them (up to a second or so here): wait, so that
  # `pgrep corosync` right after down shows nothing.
  end=$((SECONDS + 5))
  while ((SECONDS < end)) && { recorded corosync || recorded pacemakerd; }; do sleep 0.2; done
  if ((failed)); then
    say "not removing $D (its pids and netns name are needed to retry): run down again"
    return 1
  fi
  rm -rf -- "$D"
  say "down after $((SECONDS - t0))s"
}

# --- main ----------------------------------------------------------------------------------------

[ $# -ge 2 ] || usage
cmd=$1
D=$(realpath -m -- "$2")
shift 2
case $D in
/ | /run | /run/* | /dev/* | /etc/corosync* | /var/lib/corosync* | /var/log/corosync* | /var/lib/pacemaker* | /var/log/pacemaker* | /usr/lib/ocf*)
  die "STATE_DIR $D is (under) a directory the node mounts over; use e.g. a mktemp -d directory"
  ;;
esac
case $cmd in
up) up ;;
down) down ;;
exec)
  [ $# -ge 1 ] || usage
  in_node "$@"
  ;;
_enter) _enter "$@" ;;
_start) _start ;;
*) usage ;;
esac
