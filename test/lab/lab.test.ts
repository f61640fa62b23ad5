/**
 * The lab proves itself: qemu guests on Debian's 6.1 kernel give the project what this host's
 * kernel cannot (DRBD: Debian's 8.4, or a DRBD 9 module installed for the guests' kernel, as
 * LAB_DRBD says; the kernel NFS server). The two-node Pacemaker cluster and its fence device, which
 * really resets a guest, are proven where the stack needs them: the stack test (stack.test.ts)
 * kills its primary and checks the fence, the new boot and the cluster whole again.
 * Run with `bash scripts/test.sh lab test/lab/lab.test.ts` (root; ~2 min).
 *
 * beforeAll brings the lab up from a clean state (lab.sh down, then up); afterAll takes it down,
 * also after a failure, and then prints the guests' console tails. LAB_KEEP=1 leaves it up.
 * If qemu cannot run here, beforeAll fails with lab.sh's reason: these tests never skip.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseProcDrbd } from '../../lib/drbd';
import { DRBD_LAB, drbdView, labDir, labDrbd, labExec, loadedDrbd, labShOk, useLab, xpath } from './lab';

const times: Record<string, number> = {};


// node1: force primary, wait for the initial sync, make a filesystem, write a file, demote.
const DRBD_WRITE = `set -eu
t=$SECONDS
drbdadm primary --force r0
for _ in $(seq 1 600); do [ "$(drbdadm dstate r0)" = UpToDate/UpToDate ] && break; sleep 0.5; done
[ "$(drbdadm dstate r0)" = UpToDate/UpToDate ] || { cat /proc/drbd; echo "sync did not finish" >&2; exit 1; }
echo "sync_s=$((SECONDS - t))"
mkfs.ext4 -q /dev/drbd0
mkdir -p /mnt/r0
mount /dev/drbd0 /mnt/r0
head -c 16M /dev/urandom >/mnt/r0/payload
echo "sum=$(sha256sum /mnt/r0/payload | cut -d' ' -f1)"
umount /mnt/r0
drbdadm secondary r0`;

// node2: promote, mount, checksum.
const DRBD_READ = `set -eu
drbdadm primary r0
mkdir -p /mnt/r0
mount /dev/drbd0 /mnt/r0
echo "sum=$(sha256sum /mnt/r0/payload | cut -d' ' -f1)"`;

// node1: a small ext4 (loop file in the guest's tmpfs) exported as the NFSv4 pseudo-root (fsid=0:
// the overlay root cannot be one), with short lease and grace times set before nfsd starts.
// $1: the text to serve.
const NFS_SERVER = `set -eu
modprobe nfsd
mountpoint -q /proc/fs/nfsd || mount -t nfsd nfsd /proc/fs/nfsd
truncate -s 64M /tmp/export.img
mkfs.ext4 -q -F /tmp/export.img
mkdir -p /srv/export
mount -o loop /tmp/export.img /srv/export
printf '%s\\n' "$1" >/srv/export/hello.txt
mkdir -p /run/rpcbind
pidof rpcbind >/dev/null || rpcbind -w
echo 10 >/proc/fs/nfsd/nfsv4leasetime
echo 10 >/proc/fs/nfsd/nfsv4gracetime
exportfs -o rw,no_root_squash,no_subtree_check,fsid=0 192.0.2.0/24:/srv/export
pidof rpc.mountd >/dev/null || rpc.mountd
rpc.nfsd 4
echo "versions=$(cat /proc/fs/nfsd/versions)"
echo "sum=$(sha256sum /srv/export/hello.txt | cut -d' ' -f1)"`;

// node2: mount node1:/ over NFSv4.2 (no retries: a refused mount fails now), read, write back.
const NFS_CLIENT = `set -eu
modprobe nfsv4
mkdir -p /mnt/nfs
mount -t nfs4 -o vers=4.2,retry=0 node1:/ /mnt/nfs
echo "sum=$(sha256sum /mnt/nfs/hello.txt | cut -d' ' -f1)"
echo "written by $(hostname)" >/mnt/nfs/from-client.txt
echo "mount=$(awk '$2 == "/mnt/nfs" { print $3 " " $4 }' /proc/mounts)"
umount /mnt/nfs`;

function field(out: string, name: string): string {
  const m = new RegExp(`^${name}=(.*)$`, 'm').exec(out);
  if (!m) throw new Error(`no ${name}= in:\n${out}`);
  return m[1]!;
}

describe('qemu lab', () => {
  useLab({ times, timesLabel: 'lab times' });

  it('boots Debian 6.1 guests that load the DRBD LAB_DRBD names (8.4 unless a 9 module is installed) and nfsd, and see the project binary', () => {
    for (const node of ['node1', 'node2'] as const) {
      const out = labShOk(
        node,
        `set -eu
echo "host=$(hostname)"
echo "kernel=$(uname -r)"
modprobe drbd; modprobe nfsd
echo "nfsd=$(test -d /sys/module/nfsd && echo loaded)"
ip -br addr show eth0
ip -br addr show eth1`,
        [],
        120,
      );
      expect(field(out, 'host')).toBe(node);
      expect(field(out, 'kernel')).toMatch(/^6\.1\./);
      // The module through the agent's own reader: the one LAB_DRBD names (a lab that loads
      // another fails here, not halfway through the DRBD tests).
      expect(parseProcDrbd(labShOk(node, 'cat /proc/drbd', [], 30)).version).toMatch(labDrbd() === '9' ? /^9\./ : /^8\.4\./);
      expect(loadedDrbd(node)).toBe(labDrbd());
      expect(field(out, 'nfsd')).toBe('loaded');
      expect(out).toContain(node === 'node1' ? '192.0.2.11/24' : '192.0.2.12/24');
      // The replication link, DRBD's own.
      expect(out).toContain(node === 'node1' ? '198.51.100.11/24' : '198.51.100.12/24');
    }
    // The guests run the project's current binary (copied through the uncached share into their
    // RAM, never read stale through the cached root share): ocf:ocfkit:vip answers in node1.
    // (Compared with the lab's copy of dist/ocfkit, not dist/ itself, which a build may replace
    // while this runs.)
    const copy = join(labDir, 'run', 'share', 'dist');
    const sha = createHash('sha256').update(readFileSync(join(copy, 'ocfkit'))).digest('hex');
    expect(readFileSync(join(copy, 'ocfkit.id'), 'utf8').trim()).toBe(sha);
    for (const node of ['node1', 'node2'] as const) {
      expect(labShOk(node, 'cat /opt/ocfkit/ocfkit.id', [], 30).trim()).toBe(sha);
    }
    const md = labExec('node1', ['/usr/lib/ocf/resource.d/ocfkit/vip', 'meta-data'], 120);
    expect(md.status, md.out).toBe(0);
    expect(xpath(md.stdout, 'string(/resource-agent/@name)')).toBe('vip');
  });

  it('DRBD replicates a file from node1 to node2 across a role switch', () => {
    const t0 = Date.now();
    // One after another (this test is synchronous); the second waits for the connection.
    const up1 = labExec('node1', ['bash', DRBD_LAB, 'setup', 'nowait'], 180);
    expect(up1.status, up1.out).toBe(0);
    const up2 = labExec('node2', ['bash', DRBD_LAB, 'setup'], 180);
    expect(up2.status, up2.out).toBe(0);
    expect(up2.stdout.trim()).toBe('Connected');
    const w = labShOk('node1', DRBD_WRITE, [], 600);
    expect(drbdView('node1')).toMatchObject({ role: 'Secondary', peerRole: 'Secondary' });
    times.drbd_sync = Number(field(w, 'sync_s'));
    const r = labShOk('node2', DRBD_READ, [], 180);
    expect(field(r, 'sum')).toBe(field(w, 'sum'));
    expect(drbdView('node2')).toMatchObject({ role: 'Primary', peerRole: 'Secondary', disk: 'UpToDate', peerDisk: 'UpToDate' });
    times.drbd = (Date.now() - t0) / 1000;
  });

  it('an NFS client on node2 reads a file exported by node1 (NFSv4.2)', () => {
    const t0 = Date.now();
    const text = `ocfkit lab ${new Date().toISOString()}`;
    const s = labShOk('node1', NFS_SERVER, [text], 180);
    expect(field(s, 'versions')).toContain('+4.2');
    const c = labShOk('node2', NFS_CLIENT, [], 180);
    expect(field(c, 'sum')).toBe(field(s, 'sum'));
    expect(field(c, 'mount')).toMatch(/^nfs4 .*vers=4\.2/);
    const back = labShOk('node1', 'cat /srv/export/from-client.txt', [], 30);
    expect(back.trim()).toBe('written by node2');
    times.nfs = (Date.now() - t0) / 1000;
  });
});
