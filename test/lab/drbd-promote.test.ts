/**
 * drbd-promote against real DRBD 8.4 (Debian's 6.1 kernel) in the qemu lab: ocf-tester on a
 * guest, a refused demote that names who holds the device, no promotion without UpToDate data,
 * and a split brain. The agent as a promotable clone under the fenced two-node cluster (standby
 * failover and failback, the promoted guest killed, data compared by checksum) is proven in the
 * stack test (test/lab/stack.test.ts), under the whole stack. Run with `bash scripts/test.sh lab`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ProcDrbdMinor, parseProcDrbd } from '../../lib/drbd';
import { type Node, drbdPair, drbdState, drbdSynced, lab, labExec, labOk, labSh, labShOk, root, useLab, waitFor } from './lab';

const AGENT = '/usr/lib/ocf/resource.d/ocfkit/drbd-promote';
const NODES: Node[] = ['node1', 'node2'];

// $1: seed. Writes 4 MiB of data derived from the seed straight to the device; prints its checksum.
const WRITE = `set -eu
head -c 4194304 /dev/urandom >/tmp/blk.$1
dd if=/tmp/blk.$1 of=/dev/drbd0 bs=1M count=4 oflag=direct status=none
sha256sum </tmp/blk.$1 | cut -d' ' -f1`;
// On the Primary (8.4 refuses to open the device of a Secondary).
const READ = `set -eu -o pipefail
dd if=/dev/drbd0 bs=1M count=4 iflag=direct status=none | sha256sum | cut -d' ' -f1`;

function agent(node: Node, action: string, timeoutS = 120, env: string[] = []) {
  const r = labExec(node, ['env', 'OCF_ROOT=/usr/lib/ocf', 'OCF_RESOURCE_INSTANCE=drbd', 'OCF_RESKEY_drbd_resource=r0', 'OCF_RESKEY_CRM_meta_timeout=60000', ...env, AGENT, action], timeoutS);
  return { ...r, reason: /^ocf-exit-reason:(.*)$/m.exec(r.stderr)?.[1] };
}

/** ACTION on node1 with the agent's trace on; the commands it ran, as the trace lists them. */
function commandsOf(action: string, env: string[] = []): { status: number | null; commands: string[] } {
  const file = `/tmp/trace.${action}.${Date.now()}`;
  const r = agent('node1', action, 120, ['OCF_TRACE_RA=1', `OCF_TRACE_FILE=${file}`, ...env]);
  const trace = labShOk('node1', 'cat "$1"; rm -f "$1"', [file], 30);
  return { status: r.status, commands: trace.split('\n').filter((l) => l.startsWith('+ ')) };
}

/**
 * /proc/drbd on NODE, read through the agent's own parser; minor 0's line. With
 * LAB_CAPTURE_SAMPLES=1 the text is also saved as test/samples/drbd/lab-84-NAME.txt (the unit
 * tests' captured samples come from here).
 */
function procDrbd(node: Node, name: string, file = '/proc/drbd'): ProcDrbdMinor {
  const text = labShOk(node, 'cat "$1"', [file], 30);
  const p = parseProcDrbd(text);
  expect(p.version, text).toMatch(/^8\.4\./);
  if (process.env.LAB_CAPTURE_SAMPLES === '1') writeFileSync(join(root, 'test', 'samples', 'drbd', `lab-84-${name}.txt`), text);
  return p.minors.get(0) ?? { minor: 0, cs: 'Unconfigured', role: 'Unconfigured', peerRole: 'Unknown', disk: 'Diskless', peerDisk: 'DUnknown' };
}

describe('drbd-promote on real DRBD 8.4', () => {
  useLab({
    setup: () => drbdPair({ syncCopy: '/tmp/proc-drbd.sync' }),
  });

  it('the agent reads /proc/drbd of the real module in each state it meets here', () => {
    const syncing = procDrbd('node1', 'sync-start', '/tmp/proc-drbd.sync');
    // The forced promotion starts a full sync (bitmap exchange, then SyncSource); it may be over.
    expect(syncing.cs).toMatch(/^(WFBitMapS|WFSyncUUID|SyncSource|PausedSyncS|Connected)$/);
    expect(syncing.role).toBe('Primary');
    expect(procDrbd('node1', 'connected-secondary')).toMatchObject({ cs: 'Connected', role: 'Secondary', peerRole: 'Secondary', disk: 'UpToDate', peerDisk: 'UpToDate' });
    const v = labShOk('node1', 'drbdadm --version', [], 30);
    if (process.env.LAB_CAPTURE_SAMPLES === '1') writeFileSync(join(root, 'test', 'samples', 'drbd', 'lab-84-drbdadm-version.txt'), v);
    // drbd-utils 9.22 names the 8.4 module's version only as a code (0x08040b: 8.4.11).
    expect(v).toMatch(/^DRBD_KERNEL_VERSION_CODE=0x0804/m);
  });

  it('passes ocf-tester on a guest (the peer connected, Secondary)', () => {
    const r = labExec('node1', ['ocf-tester', '-n', 'drbd', '-o', 'drbd_resource=r0', AGENT], 900);
    expect(r.out).toContain('passed all tests');
    expect(r.status).toBe(0);
  });

  it('reads the 8.4 state: probe after down 7, started 0, promoted 8', () => {
    expect(agent('node1', 'stop').status).toBe(0);
    expect(agent('node1', 'monitor').status).toBe(7);
    expect(agent('node1', 'start').status).toBe(0);
    expect(agent('node1', 'monitor').status).toBe(0);
    expect(agent('node1', 'promote').status).toBe(0);
    expect(agent('node1', 'monitor').status).toBe(8);
    expect(procDrbd('node1', 'connected-primary')).toMatchObject({ cs: 'Connected', role: 'Primary', peerRole: 'Secondary' });
    expect(agent('node1', 'demote').status).toBe(0);
  });

  it('reads the configuration once per action; a pre-notification other than pre-start runs nothing', () => {
    const sh = (c: string[]) => c.filter((l) => / sh-minor /.test(l)).length;
    const p = commandsOf('promote');
    expect(p.status).toBe(0);
    expect(sh(p.commands), p.commands.join('\n')).toBe(1);
    const d = commandsOf('demote');
    expect(d.status).toBe(0);
    expect(sh(d.commands), d.commands.join('\n')).toBe(1);
    const notify = (type: string, op: string) => commandsOf('notify', [`OCF_RESKEY_CRM_meta_notify_type=${type}`, `OCF_RESKEY_CRM_meta_notify_operation=${op}`]);
    for (const op of ['demote', 'stop', 'promote']) {
      const n = notify('pre', op);
      expect(n.status).toBe(0);
      expect(n.commands, `pre-${op}`).toEqual([]);
    }
    // A post-notification reads the state (and sets the score from it).
    const post = notify('post', 'promote');
    expect(post.status).toBe(0);
    expect(sh(post.commands), post.commands.join('\n')).toBe(1);
  });

  it('a demote refused while a process holds the device names it; then it demotes', () => {
    expect(agent('node1', 'promote').status).toBe(0);
    const pid = labShOk('node1', 'setsid sleep 300 </dev/drbd0 >/dev/null 2>&1 & echo $!', [], 30).trim();
    try {
      const d = agent('node1', 'demote');
      expect(d.status).toBe(1);
      expect(d.reason).toContain(`pid ${pid} (sleep) has /dev/drbd0 open`);
      expect(agent('node1', 'monitor').status).toBe(8);
    } finally {
      labSh('node1', 'kill "$1"', [pid], 30);
    }
    expect(agent('node1', 'demote').status).toBe(0);
    expect(agent('node1', 'monitor').status).toBe(0);
  });

  it('refuses to promote without UpToDate data reachable', () => {
    // node2 alone (node1 down), with its data marked Outdated: DRBD refuses, and so does the agent.
    expect(agent('node1', 'stop').status).toBe(0);
    labShOk('node2', 'drbdadm down r0; drbdadm outdate r0; drbdadm up r0; drbdadm dstate r0', [], 120);
    expect(procDrbd('node2', 'outdated-alone')).toMatchObject({ cs: 'WFConnection', role: 'Secondary', disk: 'Outdated', peerDisk: 'DUnknown' });
    expect(procDrbd('node1', 'down').cs).toBe('Unconfigured');
    const p = agent('node2', 'promote', 180);
    expect(p.status).toBe(1);
    expect(p.reason).toContain('refusing to promote r0 to Primary without access to UpToDate data');
    expect(agent('node2', 'monitor').status).toBe(0);
    // Back to a connected, UpToDate pair: node1 brings its good data, node2 resyncs from it.
    expect(agent('node1', 'start').status).toBe(0);
    waitFor('node2 to resync', 300, () => drbdSynced('node2'));
    for (const n of NODES) expect(agent(n, 'stop').status).toBe(0);
  });

  it('replication link cut, both forced Primary: monitor reports it, then StandAlone; nothing is discarded', () => {
    for (const n of NODES) expect(agent(n, 'start').status).toBe(0);
    waitFor('UpToDate on both, connected', 300, () => drbdSynced('node1') && drbdState('node1', 'cstate') === 'Connected');
    const sums: Partial<Record<Node, string>> = {};
    try {
      // Both ends unplugged from the host (QMP set_link): the cluster link stays.
      for (const n of NODES) labOk(['link', n, 'repl', 'down'], 60);
      // DRBD notices the dead link through its ping timeout (ping-int 10 s by default).
      for (const n of NODES) waitFor(`${n} to lose the peer`, 120, () => drbdState(n, 'cstate') !== 'Connected');
      for (const n of NODES) {
        labShOk(n, 'drbdadm primary --force r0', [], 60);
        sums[n] = labShOk(n, WRITE, [`sb-${n}`], 120).trim();
        const m = agent(n, 'monitor');
        expect(m.status).toBe(8);
        expect(m.reason).toMatch(/replication link of r0 is down \((Connecting|NetworkFailure|Unconnected|Timeout|BrokenPipe)\)/);
      }
    } finally {
      for (const n of NODES) lab(['link', n, 'repl', 'up'], 60);
    }
    // Back on the wire: DRBD finds two diverged Primaries, and drops the connection (at least one
    // side StandAlone; the other may still wait for a connection that will be refused).
    const states = waitFor('split brain detected', 180, () => {
      const c = NODES.map((n) => drbdState(n, 'cstate'));
      return c.includes('StandAlone') && !c.includes('Connected') && !c.some((x) => x.startsWith('Sync')) ? c : undefined;
    });
    const alone = NODES[states.indexOf('StandAlone')]!;
    expect(procDrbd(alone, 'standalone-primary')).toMatchObject({ cs: 'StandAlone', role: 'Primary', disk: 'UpToDate', peerDisk: 'DUnknown' });
    expect(labShOk(alone, 'dmesg', [], 30)).toMatch(/Split-Brain detected/);
    for (const n of NODES) {
      const m = agent(n, 'monitor');
      expect(m.status).toBe(8);
      expect(m.reason).toMatch(/StandAlone|is down/);
      // Nothing discarded: each side still has what it wrote.
      expect(labShOk(n, READ, [], 120).trim()).toBe(sums[n]);
    }
    expect(agent(alone, 'monitor').reason).toContain('is StandAlone: DRBD will not reconnect by itself');
    // The operator's recovery: node2 gives up its changes, node1's copy wins.
    labShOk('node2', 'drbdadm secondary r0 && drbdadm disconnect r0; drbdadm connect --discard-my-data r0', [], 60);
    labShOk('node1', 'drbdadm disconnect r0; drbdadm connect r0', [], 60);
    waitFor('node2 resynced from node1', 300, () => drbdSynced('node2') && drbdState('node2', 'cstate') === 'Connected');
    expect(agent('node1', 'demote').status).toBe(0);
    expect(agent('node2', 'promote').status).toBe(0);
    expect(labShOk('node2', READ, [], 120).trim()).toBe(sums.node1);
    expect(agent('node2', 'demote').status).toBe(0);
    for (const n of NODES) expect(agent(n, 'stop').status).toBe(0);
  });
});
