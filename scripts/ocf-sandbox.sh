#!/usr/bin/env bash
# Runs CMD with ocfkit installed into SANDBOX and visible as ocf:ocfkit:* to crm_resource, pcs,
# ocf-tester and Pacemaker, without changing the host: must run in a private mount namespace
#   unshare --mount --propagation private scripts/ocf-sandbox.sh SANDBOX CMD...
# A copy of /usr/lib/ocf/resource.d plus the ocfkit provider is bind-mounted over the original.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
sandbox=$1; shift
[ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ] || {
  echo "ocf-sandbox: refusing to bind-mount in the host's mount namespace (use unshare --mount)" >&2; exit 1; }
mkdir -p "$sandbox"
chmod 755 "$sandbox"
DESTDIR=$sandbox/root bash "$top/scripts/install.sh" >/dev/null
rd=$sandbox/resource.d
rm -rf "$rd"; mkdir -p "$rd"
cp -a /usr/lib/ocf/resource.d/. "$rd/"
rm -rf "$rd/ocfkit"; mkdir -m 755 "$rd/ocfkit"
for a in $("$sandbox/root/usr/lib/ocfkit/ocfkit" agents); do ln -s "$sandbox/root/usr/lib/ocfkit/ocfkit" "$rd/ocfkit/$a"; done
mount --bind "$rd" /usr/lib/ocf/resource.d
export OCFKIT_SANDBOX=$sandbox
exec "$@"
