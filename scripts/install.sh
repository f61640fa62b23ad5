#!/usr/bin/env bash
# Installs dist/ocfkit, one link per agent under $OCF_ROOT/resource.d/ocfkit/, and the static
# drop-ins nfs-export's NFS units read their arguments through (under $SYSTEMD_UNITDIR, with their
# wrapper beside the executable), then runs the one systemctl daemon-reload that loads them.
#   scripts/install.sh              install     (DESTDIR, PREFIX=/usr, OCF_ROOT=/usr/lib/ocf,
#                                                SYSTEMD_UNITDIR=/usr/lib/systemd/system honoured)
#   scripts/install.sh --uninstall  remove what install put there
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr}
OCF_ROOT=${OCF_ROOT:-/usr/lib/ocf}
libdir=$PREFIX/lib/ocfkit
provider=$OCF_ROOT/resource.d/ocfkit
sbin=$PREFIX/sbin
unitdir=${SYSTEMD_UNITDIR:-/usr/lib/systemd/system}
dropin=60-ocfkit-nfs.conf
# Loads changed drop-ins: at install time only, never at failover. Not into a DESTDIR staging root.
reload_systemd() {
  if [ -z "$DESTDIR" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload || echo "install: systemctl daemon-reload failed: run it before nfs-export next starts the NFS server" >&2; fi
}
# Relative links keep working inside DESTDIR and after a package manager relocates the tree.
target=$(realpath -m --relative-to="$provider" "$libdir/ocfkit")

if [ "${1:-}" = --uninstall ]; then
  for link in "$DESTDIR$provider"/*; do
    [ -L "$link" ] && [ "$(readlink "$link")" = "$target" ] && rm -f "$link"
  done
  rmdir "$DESTDIR$provider" 2>/dev/null || true
  [ -L "$DESTDIR$sbin/ocfkit" ] && rm -f "$DESTDIR$sbin/ocfkit"
  rm -f "$DESTDIR$libdir/ocfkit" "$DESTDIR$libdir/nfs-unit-exec"
  rmdir "$DESTDIR$libdir" 2>/dev/null || true
  for unit in nfs-server nfsdcld rpc-statd; do
    rm -f "$DESTDIR$unitdir/$unit.service.d/$dropin"
    rmdir "$DESTDIR$unitdir/$unit.service.d" 2>/dev/null || true
  done
  reload_systemd
  echo "removed ocfkit from ${DESTDIR:-/}"
  exit 0
fi

bin=$top/dist/ocfkit
[ -x "$bin" ] || { echo "install: $bin is missing: run 'npm run build' first" >&2; exit 1; }
agents=$("$bin" agents)
# ocf-tester runs meta-data as nobody: everything must be world-readable and executable.
install -d -m 755 "$DESTDIR$libdir" "$DESTDIR$provider" "$DESTDIR$sbin"
# Atomic replacement, as dpkg and rpm do it: written beside the target, then renamed over it. A
# monitor running the old executable keeps its inode; one starting now runs the old or the new
# file, never a missing or half-written one (install(1) and ln -sf remove the target first).
put() { mv -fT "$1" "$2"; }
install -m 755 "$bin" "$DESTDIR$libdir/.ocfkit.new.$$"
put "$DESTDIR$libdir/.ocfkit.new.$$" "$DESTDIR$libdir/ocfkit"
for a in $agents; do ln -sfn "$target" "$DESTDIR$provider/.$a.new.$$" && put "$DESTDIR$provider/.$a.new.$$" "$DESTDIR$provider/$a"; done
ln -sfn "$(realpath -m --relative-to="$sbin" "$libdir/ocfkit")" "$DESTDIR$sbin/.ocfkit.new.$$"
put "$DESTDIR$sbin/.ocfkit.new.$$" "$DESTDIR$sbin/ocfkit"
"$bin" install-nfs-units "$unitdir" "$libdir" "$DESTDIR" >/dev/null
reload_systemd
echo "installed ocfkit into ${DESTDIR:-/}: $libdir/ocfkit, $sbin/ocfkit, $provider/{$(echo $agents | tr ' ' ,)}, $unitdir/{nfs-server,nfsdcld,rpc-statd}.service.d/$dropin"
