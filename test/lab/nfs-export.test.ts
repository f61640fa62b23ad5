/**
 * nfs-export with the real kernel NFS server (Debian's 6.1 kernel in the qemu lab): ocf-tester
 * with the server managed by the agent; an NFSv3 lock reclaimed after a server restart, notified
 * once the floating address is up; NFSv4.2 and NFSv3 clients on the other guest; and after
 * stop, the exported filesystem unmounts (nfsd let go of it). Run with `bash scripts/test.sh lab`.
 */
import { describe, expect, it } from 'vitest';
import { KILL_NFS_SERVER, type Node, labExec, labSh, labShOk, useLab, waitFor, writeLockHeld } from './lab';

const AGENT = '/usr/lib/ocf/resource.d/ocfkit/nfs-export';
const PARAMS = [
  'OCF_RESKEY_directory=/srv/nfs',
  'OCF_RESKEY_clientspec=192.0.2.0/24',
  'OCF_RESKEY_options=rw,sync,no_subtree_check,no_root_squash',
  'OCF_RESKEY_nfs_shared_infodir=/srv/nfs/.nfs-state',
  'OCF_RESKEY_nfs_server_scope=192.0.2.100',
];

// node1: a filesystem to export, and short NFSv4 lease/grace times so a test does not wait 90 s;
// lockd's own grace too (50 s by default: nlm_timeout × 5), in which it refuses even an NFSv3
// client's unlock, so the client's lock holder cannot exit, nor its mount go, until it ends. Not
// shorter than 30 s: between a server start and the client's reclaim lie three agent calls, an
// address change and sm-notify, and beside a second lab they took more than 10 s (the reclaim was
// refused as out of grace).
const PREPARE = `set -eu
# A lab reused after a DRBD test has device-mapper holding the disk (drbd-lab): let it go.
dmsetup remove r0disk 2>/dev/null || :
mkfs.ext4 -q -F /dev/vda
mkdir -p /srv/nfs
mount /dev/vda /srv/nfs
modprobe nfsd
mountpoint -q /proc/fs/nfsd || mount -t nfsd nfsd /proc/fs/nfsd
echo 10 >/proc/fs/nfsd/nfsv4leasetime
echo 10 >/proc/fs/nfsd/nfsv4gracetime
echo 30 >/proc/sys/fs/nfs/nlm_grace_period
echo ok`;

/** systemd is PID 1 in the guest (LAB_INIT=systemd): the agent runs the server through its units. */
const underSystemd = () => labSh('node1', '[ -d /run/systemd/system ]', [], 30).status === 0;
/** ActiveState of each unit, as systemd sees it. */
/** ocfkit's static drop-ins and the file they read (lib/nfs-units). */
const STATIC_UNITS = ['nfs-server.service', 'nfsdcld.service', 'rpc-statd.service'];
const ENV_FILE = '/run/ocfkit/nfs-server.env';
const unitStates = (units: string) => units.split(' ').map((u) => labSh('node1', `systemctl show -p ActiveState --value ${u}`, [], 30).stdout.trim());

function agent(node: Node, action: string, extra: string[] = [], timeoutS = 180) {
  const r = labExec(node, ['env', 'OCF_ROOT=/usr/lib/ocf', 'OCF_RESOURCE_INSTANCE=nfs', 'OCF_RESKEY_CRM_meta_timeout=120000', ...PARAMS, ...extra, AGENT, action], timeoutS);
  return { ...r, reason: /^ocf-exit-reason:(.*)$/m.exec(r.stderr)?.[1] };
}

describe('nfs-export with the kernel NFS server', () => {
  useLab({
    setup: () => {
      const p = labSh('node1', PREPARE, [], 180);
      return p.status !== 0 ? `preparing node1 failed:\n${p.out}` : undefined;
    },
  });

  it('passes ocf-tester with the server managed by the agent', () => {
    // Pacemaker's timeout as the other calls give it (a Node start costs seconds in a TCG guest).
    const args = [...PARAMS, 'OCF_RESKEY_CRM_meta_timeout=120000'].flatMap((p) => ['-o', p.slice('OCF_RESKEY_'.length)]);
    const r = labExec('node1', ['ocf-tester', '-n', 'nfs', ...args, AGENT], 1200);
    expect(r.out).toContain('passed all tests');
    expect(r.status).toBe(0);
  });

  it('tells NFSv3 lock clients to reclaim once the floating address is up: the first monitor that finds it sends sm-notify', () => {
    const vip = ['OCF_RESKEY_nfs_ip=192.0.2.100'];
    const interval = 'OCF_RESKEY_CRM_meta_interval=10000';
    const lockHeld = () => writeLockHeld('node1', '/srv/nfs/v3.lock');
    labShOk('node1', 'ip addr add 192.0.2.100/24 dev eth0', [], 30);
    // sm-notify names the server by the address's host name: without one it cannot notify, and
    // the agent says what to do instead of "exited 1".
    const unnamed = agent('node1', 'start', vip);
    expect(unnamed.status, unnamed.out).toBe(0);
    expect(unnamed.stderr).toContain('sm-notify cannot send from 192.0.2.100: the address has no host name here');
    expect(agent('node1', 'stop', vip).status).toBe(0);
    for (const n of ['node1', 'node2'] as const) labShOk(n, 'echo "192.0.2.100 nfs-vip" >>/etc/hosts', [], 30);
    const named = agent('node1', 'start', vip);
    expect(named.status, named.out).toBe(0);
    expect(named.stderr).toContain('sm-notify sent from 192.0.2.100');
    // node2 mounts through the address with NLM locking (its own statd), and holds a lock.
    labShOk(
      'node2',
      `set -eu
pgrep -x rpcbind >/dev/null || rpcbind -w
mkdir -p /mnt/v3l
mount -t nfs -o vers=3,hard,timeo=10,retrans=3 192.0.2.100:/srv/nfs /mnt/v3l
setsid python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "a"); fcntl.lockf(f, fcntl.LOCK_EX); open(sys.argv[2], "w").write("locked\\n"); time.sleep(900)' /mnt/v3l/v3.lock /tmp/v3.locked </dev/null >/tmp/v3.lock.out 2>&1 &
echo $! >/tmp/v3.lock.pid
for _ in $(seq 1 150); do [ -s /tmp/v3.locked ] && exit 0; sleep 0.2; done
cat /tmp/v3.lock.out; exit 1`,
      [],
      120,
    );
    expect(lockHeld()).toBe(true);
    // A failover as the stack orders it: the address goes first, the export and server restart,
    // and the address comes last. Restarting nfsd dropped the lock; only a notice brings it back.
    labShOk('node1', 'ip addr del 192.0.2.100/24 dev eth0', [], 30);
    // statd ends first (its records kept), so lockd's goodbye to node2 goes unanswered: the stop
    // cuts rpc.nfsd 0 short instead of waiting out its 20 s timeout.
    const stopped = agent('node1', 'stop', vip);
    expect(stopped.status, stopped.out).toBe(0);
    if (underSystemd()) {
      // Stopped through systemd: nfs-server.service (oneshot, RemainAfterExit) is inactive, so the
      // start that follows on this node (a failback) starts it again instead of a no-op.
      expect(unitStates('nfs-server.service rpc-statd.service nfsdcld.service')).toEqual(['inactive', 'inactive', 'inactive']);
    } else expect(stopped.stderr).toContain('rpc.nfsd 0 ended after 3 s');
    const s = agent('node1', 'start', vip);
    expect(s.status, s.out).toBe(0);
    expect(s.stderr).toContain('once 192.0.2.100 is up on this node');
    const early = agent('node1', 'monitor', [...vip, interval]);
    expect(early.status, early.out).toBe(0);
    expect(early.stderr).not.toContain('sm-notify sent');
    expect(lockHeld()).toBe(false);
    labShOk('node1', 'ip addr add 192.0.2.100/24 dev eth0', [], 30);
    const sent = agent('node1', 'monitor', [...vip, interval]);
    expect(sent.status, sent.out).toBe(0);
    expect(sent.stderr).toMatch(/sm-notify sent from 192\.0\.2\.100 [\d.]+s after the NFS server start/);
    waitFor('node2 reclaiming its NFSv3 lock', 60, lockHeld, 2);
    // Owed once: the next monitor sends nothing.
    expect(agent('node1', 'monitor', [...vip, interval]).stderr).not.toContain('sm-notify sent');
    // The lock holder gone, its mount goes too: retried while the dying holder's unlock waits out
    // lockd's grace (the server just restarted; it refuses an unlock in grace, PREPARE shortens it).
    // Killed by its pid: the lab's mailbox agent is a python3 process too.
    const umount = labSh('node2', 'kill "$(cat /tmp/v3.lock.pid)" || :; for _ in $(seq 1 45); do umount /mnt/v3l 2>/dev/null && exit 0; sleep 1; done; umount /mnt/v3l', [], 90);
    expect(umount.status, umount.out).toBe(0);
    expect(agent('node1', 'stop', vip).status).toBe(0);
    labShOk('node1', 'ip addr del 192.0.2.100/24 dev eth0; rm -f /srv/nfs/v3.lock', [], 30);
  });

  it('serves NFSv3 and NFSv4.2 clients; client state on the shared directory; stop lets the filesystem go', () => {
    const s = agent('node1', 'start');
    expect(s.status, s.out).toBe(0);
    expect(Number(labShOk('node1', 'cat /proc/fs/nfsd/threads', [], 30))).toBeGreaterThan(0);
    expect(labShOk('node1', 'exportfs -s', [], 30)).toMatch(/^\/srv\/nfs\s+192\.0\.2\.0\/24\(.*fsid=[0-9a-f-]{36}/m);
    expect(labShOk('node1', 'cat /proc/fs/nfsd/nfsv4recoverydir', [], 30).trim()).toBe('/srv/nfs/.nfs-state/v4recovery');
    if (underSystemd()) {
      // The units as Debian packages them, their state pointed at the shared directory before nfsd started.
      expect(unitStates('nfs-server.service nfsdcld.service rpc-statd.service nfs-mountd.service')).toEqual(['active', 'active', 'active', 'active']);
      expect(labShOk('node1', 'tr "\\0" " " </proc/$(pgrep -x nfsdcld)/cmdline', [], 30)).toContain('-s /srv/nfs/.nfs-state/nfsdcld');
      expect(labShOk('node1', 'tr "\\0" " " </proc/$(pgrep -x rpc.statd)/cmdline', [], 30)).toContain('-P /srv/nfs/.nfs-state/statd');
      // Through ocfkit's static drop-ins (installed as the package installs them), not the
      // fallback: no runtime drop-in, no daemon-reload, the arguments in the environment file.
      expect(s.stderr).not.toContain("without ocfkit's drop-in");
      for (const u of STATIC_UNITS) expect(labShOk('node1', `systemctl show -p DropInPaths --value ${u}`, [], 30)).toContain(`/usr/lib/systemd/system/${u}.d/60-ocfkit-nfs.conf`);
      expect(labSh('node1', 'ls /run/systemd/system/*.d/50-ocfkit-nfs-export.conf', [], 30).status).not.toBe(0);
      expect(labShOk('node1', `cat ${ENV_FILE}`, [], 30)).toContain('OCFKIT_NFSD_UTS=--uts-hostname 192.0.2.100');
      // A restart or reload of nfs-server.service (by hand, by a package upgrade) keeps the
      // exports the cluster made, this resource's and another's: the packaged exportfs -r and
      // exportfs -au would drop them, and every export's monitor fail.
      labShOk('node1', 'mkdir -p /srv/nfs/other && exportfs -o ro,fsid=77,no_subtree_check 192.0.2.99:/srv/nfs/other', [], 30);
      for (const how of ['restart', 'reload']) {
        labShOk('node1', `systemctl ${how} nfs-server.service`, [], 120);
        const list = labShOk('node1', 'exportfs -s', [], 30);
        expect(list, how).toMatch(/^\/srv\/nfs\s+192\.0\.2\.0\/24/m);
        expect(list, how).toMatch(/^\/srv\/nfs\/other\s+192\.0\.2\.99/m);
        const m = agent('node1', 'monitor');
        expect(m.status, `${how}: ${m.out}`).toBe(0);
      }
      labShOk('node1', 'exportfs -u 192.0.2.99:/srv/nfs/other', [], 30);
    }
    expect(agent('node1', 'monitor').status).toBe(0);
    const v3 = labSh(
      'node2',
      `set -eu
mkdir -p /mnt/v3
mount -t nfs -o vers=3,retry=0,timeo=50,nolock 192.0.2.11:/srv/nfs /mnt/v3
echo hello-v3 >/mnt/v3/from-v3
cat /mnt/v3/from-v3
umount /mnt/v3`,
      [],
      300,
    );
    expect(v3.status, v3.out).toBe(0);
    expect(v3.stdout).toContain('hello-v3');
    expect(agent('node1', 'stop').status).toBe(0);

    // NFSv4: the guests' root is overlayfs on 9p, which nfsd cannot walk as the v4 pseudo-root
    // (the lab's known pitfall); the export itself is the pseudo-root there (fsid=root, server:/).
    const root = ['OCF_RESKEY_fsid=root'];
    expect(agent('node1', 'start', root).status).toBe(0);
    const v4 = labSh(
      'node2',
      `set -eu
mkdir -p /mnt/v4
mount -t nfs4 -o vers=4.2,retry=0,timeo=50 192.0.2.11:/ /mnt/v4
echo hello-v4 >/mnt/v4/from-v4
cat /mnt/v4/from-v3 /mnt/v4/from-v4
umount /mnt/v4`,
      [],
      300,
    );
    expect(v4.status, v4.out).toBe(0);
    expect(v4.stdout).toContain('hello-v3\nhello-v4');
    // The server dying under the running export: the export table stays and clients would hang,
    // so every monitor (not only depth 10) fails; Pacemaker's recovery, stop then start, serves
    // again. First rpc.mountd alone, then the whole server.
    const recovers = (what: string, kill: string, reason: string) => {
      labShOk('node1', kill, [], 60);
      const dead = agent('node1', 'monitor', [...root, 'OCF_RESKEY_CRM_meta_interval=10000']);
      expect(dead.status, `${what}: ${dead.out}`).toBe(1);
      expect(dead.reason).toContain(reason);
      expect(agent('node1', 'stop', root).status).toBe(0);
      expect(agent('node1', 'start', root).status).toBe(0);
      expect(agent('node1', 'monitor', [...root, 'OCF_RESKEY_CRM_meta_interval=10000']).status, what).toBe(0);
    };
    recovers('rpc.mountd killed', 'pkill -KILL -x rpc.mountd', 'rpc.mountd is not running');
    recovers('the server killed', KILL_NFS_SERVER, 'nfsd threads: 0');
    const stop = agent('node1', 'stop', root);
    expect(stop.status, stop.out).toBe(0);
    expect(agent('node1', 'monitor', root).status).toBe(7);
    expect(labShOk('node1', 'cat /proc/fs/nfsd/threads', [], 30).trim()).toBe('0');
    // NFSv4 clients were recorded by nfsdcld, in its database on the shared filesystem (not by
    // nfsdcltrack in this node's /var/lib/nfs); nfsdcld is gone, so the filesystem can go too.
    expect(labShOk('node1', 'dmesg', [], 30)).toContain('NFSD: Using nfsdcld client tracking operations');
    expect(labShOk('node1', 'ls /srv/nfs/.nfs-state/nfsdcld', [], 30)).toMatch(/main\.sqlite/);
    expect(labSh('node1', 'pgrep -x nfsdcld', [], 30).status).toBe(1);
    if (underSystemd()) {
      expect(unitStates('nfs-server.service nfsdcld.service rpc-statd.service nfs-mountd.service')).toEqual(['inactive', 'inactive', 'inactive', 'inactive']);
      // The environment file goes with the server: what starts the units next runs them as packaged.
      expect(labSh('node1', `test -e ${ENV_FILE}`, [], 30).status).toBe(1);
    }
    // What fs-mount's stop needs: nothing of nfsd left on the filesystem.
    const um = labSh('node1', 'umount /srv/nfs && echo unmounted', [], 60);
    expect(um.status, um.out).toBe(0);
    if (underSystemd()) {
      // Without the environment file (a node booted without the cluster) the units run as Debian
      // packages them, through the same static drop-ins: statd and nfsdcld on /var/lib/nfs, rpc.nfsd
      // with nfs.conf's threads, exportfs -r loading /etc/exports.
      labShOk('node1', 'mkdir -p /srv/etc-export && mount -t tmpfs tmpfs /srv/etc-export && echo "/srv/etc-export 192.0.2.98(ro,no_subtree_check,fsid=78)" >/etc/exports && systemctl start nfs-server.service', [], 120);
      expect(unitStates('nfs-server.service nfsdcld.service rpc-statd.service')).toEqual(['active', 'active', 'active']);
      expect(labShOk('node1', 'tr "\\0" " " </proc/$(pgrep -x rpc.statd)/cmdline', [], 30).trim()).toMatch(/^(\/usr)?\/sbin\/rpc\.statd --no-notify$/);
      expect(labShOk('node1', 'tr "\\0" " " </proc/$(pgrep -x nfsdcld)/cmdline', [], 30).trim()).toBe('/usr/sbin/nfsdcld');
      expect(Number(labShOk('node1', 'cat /proc/fs/nfsd/threads', [], 30))).toBe(8);
      expect(labShOk('node1', 'exportfs -s', [], 30)).toMatch(/^\/srv\/etc-export\s+192\.0\.2\.98/m);
      labShOk('node1', 'systemctl stop nfs-server.service rpc-statd.service nfsdcld.service && : >/etc/exports && umount /srv/etc-export', [], 120);
      expect(labShOk('node1', 'exportfs -s', [], 30)).not.toContain('/srv/etc-export');
    }
  });

  it('under systemd without the static drop-ins: validate-all and ocfkit doctor say so, start warns how to install them and still runs the units on the shared directory', () => {
    if (!underSystemd()) return;
    const hidden = '/root/ocfkit-dropins';
    const hide = `mkdir -p ${hidden} && for u in ${STATIC_UNITS.join(' ')}; do mv /usr/lib/systemd/system/$u.d/60-ocfkit-nfs.conf ${hidden}/$u.conf; done && systemctl daemon-reload`;
    const restore = `for u in ${STATIC_UNITS.join(' ')}; do mv ${hidden}/$u.conf /usr/lib/systemd/system/$u.d/60-ocfkit-nfs.conf; done && rm -f /run/systemd/system/*.d/50-ocfkit-nfs-export.conf && systemctl daemon-reload`;
    expect(labShOk('node1', '/opt/ocfkit/ocfkit doctor 2>&1 | grep "^nfs units"', [], 120)).toContain("ocfkit's drop-ins loaded");
    labShOk('node1', hide, [], 180);
    try {
      const v = agent('node1', 'validate-all', ['OCF_CHECK_LEVEL=10']);
      expect(v.status, v.out).toBe(0);
      expect(v.stderr).toContain("without ocfkit's drop-in 60-ocfkit-nfs.conf");
      expect(labShOk('node1', '/opt/ocfkit/ocfkit doctor 2>&1 | grep "^nfs units"', [], 120)).toMatch(/WARNING: .*without ocfkit's drop-in 60-ocfkit-nfs.conf.*install them with the ocfkit package/);
      labShOk('node1', 'mount /dev/vda /srv/nfs', [], 60);
      const s = agent('node1', 'start');
      expect(s.status, s.out).toBe(0);
      expect(s.stderr).toMatch(/without ocfkit's drop-in 60-ocfkit-nfs.conf: .*daemon-reload.*install them with the ocfkit package/);
      expect(labShOk('node1', 'tr "\\0" " " </proc/$(pgrep -x rpc.statd)/cmdline', [], 30)).toContain('-P /srv/nfs/.nfs-state/statd');
      expect(agent('node1', 'monitor').status).toBe(0);
      const stop = agent('node1', 'stop');
      expect(stop.status, stop.out).toBe(0);
      expect(unitStates('nfs-server.service nfsdcld.service rpc-statd.service')).toEqual(['inactive', 'inactive', 'inactive']);
      expect(labSh('node1', 'umount /srv/nfs', [], 60).status).toBe(0);
    } finally {
      labShOk('node1', restore, [], 180);
    }
  });
});
