/**
 * drbd-promote against real DRBD in the qemu lab: Debian's in-tree 8.4, or DRBD 9 where a 9 module
 * is installed for the guests' kernel (LAB_DRBD, docs/lab.md#on-a-drbd-9-host). First the lab proves itself
 * (Debian's 6.1 kernel, the DRBD module LAB_DRBD names, nfsd, both links, the project's current
 * binary in the guests); replication moving data across a role switch and an NFS client on the other
 * guest are proven, with more, by the stack and nfs-export tests. Then ocf-tester on a guest, a
 * refused demote that names who holds the device, no promotion without UpToDate data, and a split
 * brain. State is read as the agent reads it: events2 on 9, /proc/drbd on 8.4. The agent as a
 * promotable clone under the fenced two-node cluster (standby failover and failback, the promoted
 * guest killed, data compared by checksum) is proven in the stack test (test/lab/stack.test.ts),
 * under the whole stack. Run with `bash scripts/test.sh lab`.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseProcDrbd } from '../../lib/drbd';
import { type DrbdView, type Node, drbdInSync, drbdPair, drbdRead, drbdView, lab, labDir, labDrbd, labExec, labOk, labSh, labShOk, loadedDrbd, root, useLab, viewOf, waitFor, xpath } from './lab';

const AGENT = '/usr/lib/ocf/resource.d/ocfkit/drbd-promote';
const NODES: Node[] = ['node1', 'node2'];

// $1: seed. Writes 4 MiB of data derived from the seed straight to the device; prints its checksum.
const WRITE = `set -eu
head -c 4194304 /dev/urandom >/tmp/blk.$1
dd if=/tmp/blk.$1 of=/dev/drbd0 bs=1M count=4 oflag=direct status=none
sha256sum </tmp/blk.$1 | cut -d' ' -f1`;
// On the Primary (8.4 refuses to open the device of a Secondary; 9 would auto-promote where allowed).
const READ = `set -eu -o pipefail
dd if=/dev/drbd0 bs=1M count=4 iflag=direct status=none | sha256sum | cut -d' ' -f1`;

function field(out: string, name: string): string {
  const m = new RegExp(`^${name}=(.*)$`, 'm').exec(out);
  if (!m) throw new Error(`no ${name}= in:\n${out}`);
  return m[1]!;
}

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
 * r0 on NODE read through the agent's own parsers (events2 on 9, /proc/drbd on 8.4). With
 * LAB_CAPTURE_SAMPLES=1 the text is also saved as test/samples/drbd/lab-84-NAME.txt (8.4; the unit
 * tests' captured samples come from here) or lab-9-NAME-events2.txt (9).
 */
function seen(node: Node, name: string, file?: string): DrbdView {
  const { res, text } = drbdRead(node, file);
  if (process.env.LAB_CAPTURE_SAMPLES === '1') {
    writeFileSync(join(root, 'test', 'samples', 'drbd', labDrbd() === '9' ? `lab-9-${name}-events2.txt` : `lab-84-${name}.txt`), text);
  }
  return viewOf(res);
}

describe('drbd-promote on real DRBD 8.4', () => {
  useLab({
    setup: () => drbdPair({ syncCopy: '/tmp/drbd-state.sync' }),
  });

  // The lab itself first: a lab that loads another module than LAB_DRBD names fails here, not
  // halfway through.
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

  it('the agent reads the real module in each state it meets here (events2 on 9, /proc/drbd on 8.4)', () => {
    const syncing = seen('node1', 'sync-start', '/tmp/drbd-state.sync');
    // The forced promotion starts a full sync (bitmap exchange, then SyncSource); it may be over.
    expect(syncing.connection).toBe('Connected');
    expect(syncing.replication).toMatch(/^(WFBitMapS|WFSyncUUID|SyncSource|PausedSyncS|Established)$/);
    expect(syncing.role).toBe('Primary');
    expect(seen('node1', 'connected-secondary')).toMatchObject({ connection: 'Connected', replication: 'Established', role: 'Secondary', peerRole: 'Secondary', disk: 'UpToDate', peerDisk: 'UpToDate' });
    const v = labShOk('node1', 'drbdadm --version', [], 30);
    if (process.env.LAB_CAPTURE_SAMPLES === '1') writeFileSync(join(root, 'test', 'samples', 'drbd', `lab-${labDrbd()}-drbdadm-version.txt`), v);
    // drbd-utils 9.22 names an 8.4 module's version only as a code (0x08040b: 8.4.11); a 9 module's in both forms.
    expect(v).toMatch(labDrbd() === '9' ? /^DRBD_KERNEL_VERSION_CODE=0x09/m : /^DRBD_KERNEL_VERSION_CODE=0x0804/m);
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
    expect(seen('node1', 'connected-primary')).toMatchObject({ connection: 'Connected', role: 'Primary', peerRole: 'Secondary' });
    expect(agent('node1', 'demote').status).toBe(0);
  });

  it('reads the configuration once per state change (8.4; monitors and notifications reuse it) or only events2 (9); a pre-notification other than pre-start runs nothing', () => {
    // 8.4: /proc/drbd names minors, `drbdadm sh-minor` maps them, once per state-changing action
    // (monitors and notifications reuse what it kept while the files are unchanged). 9: events2 names
    // the resource, read before and after the state change, and the configuration is not read at all.
    const nine = labDrbd() === '9';
    const reads = (c: string[]) => c.filter((l) => (nine ? /drbdsetup events2 --now r0/ : / sh-minor /).test(l)).length;
    const configReads = (c: string[]) => c.filter((l) => / sh-minor /.test(l)).length;
    const p = commandsOf('promote');
    expect(p.status).toBe(0);
    expect(reads(p.commands), p.commands.join('\n')).toBe(nine ? 2 : 1);
    expect(configReads(p.commands), p.commands.join('\n')).toBe(nine ? 0 : 1);
    const d = commandsOf('demote');
    expect(d.status).toBe(0);
    expect(reads(d.commands), d.commands.join('\n')).toBe(nine ? 2 : 1);
    expect(configReads(d.commands), d.commands.join('\n')).toBe(nine ? 0 : 1);
    const notify = (type: string, op: string) => commandsOf('notify', [`OCF_RESKEY_CRM_meta_notify_type=${type}`, `OCF_RESKEY_CRM_meta_notify_operation=${op}`]);
    for (const op of ['demote', 'stop', 'promote']) {
      const n = notify('pre', op);
      expect(n.status).toBe(0);
      expect(n.commands, `pre-${op}`).toEqual([]);
    }
    // A post-notification reads the state (and sets the score from it). On 8.4 it reuses the minors
    // demote read, the configuration files unchanged since; so does a monitor.
    const post = notify('post', 'promote');
    expect(post.status).toBe(0);
    expect(reads(post.commands), post.commands.join('\n')).toBe(nine ? 1 : 0);
    expect(configReads(post.commands), post.commands.join('\n')).toBe(0);
    const m = commandsOf('monitor');
    expect(configReads(m.commands), m.commands.join('\n')).toBe(0);
  });

  it('a demote refused while a process holds the device open for writing names it; then it demotes', () => {
    expect(agent('node1', 'promote').status).toBe(0);
    // Read-write: DRBD 9 refuses a demote only for writers (8.4 for any opener, so a writer too).
    const pid = labShOk('node1', 'setsid sleep 300 <>/dev/drbd0 >/dev/null 2>&1 & echo $!', [], 30).trim();
    try {
      const d = agent('node1', 'demote');
      expect(d.status).toBe(1);
      // DRBD's own cause first, within Pacemaker's 128 characters; the holders after it.
      expect(d.reason!.slice(0, 128)).toContain('Device is held open by someone');
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
    // 8.4 says WFConnection, 9 Connecting: the agent's reader names both Connecting.
    expect(seen('node2', 'outdated-alone')).toMatchObject({ connection: 'Connecting', role: 'Secondary', disk: 'Outdated', peerDisk: 'DUnknown' });
    // Down: no minor line on 8.4, `exists -` alone on 9.
    expect(seen('node1', 'down')).toMatchObject({ role: 'Unconfigured', connection: 'Unconfigured' });
    const down = drbdRead('node1').text;
    if (labDrbd() === '9') expect(down).toBe('exists -\n');
    else expect(down).not.toMatch(/^\s*0: cs:(?!Unconfigured)/m);
    const p = agent('node2', 'promote', 180);
    expect(p.status).toBe(1);
    expect(p.reason).toContain('refusing to promote r0 to Primary without access to UpToDate data');
    expect(agent('node2', 'monitor').status).toBe(0);
    // Back to a connected, UpToDate pair: node1 brings its good data, node2 resyncs from it.
    expect(agent('node1', 'start').status).toBe(0);
    waitFor('node2 to resync', 300, () => drbdInSync('node2'));
    for (const n of NODES) expect(agent(n, 'stop').status).toBe(0);
  });

  it('replication link cut, both forced Primary: monitor reports it, then StandAlone; nothing is discarded', () => {
    for (const n of NODES) expect(agent(n, 'start').status).toBe(0);
    waitFor('UpToDate on both, connected', 300, () => drbdInSync('node1'));
    const sums: Partial<Record<Node, string>> = {};
    try {
      // Both ends unplugged from the host (QMP set_link): the cluster link stays.
      for (const n of NODES) labOk(['link', n, 'repl', 'down'], 60);
      // DRBD notices the dead link through its ping timeout (ping-int 10 s by default).
      for (const n of NODES) waitFor(`${n} to lose the peer`, 120, () => drbdView(n).connection !== 'Connected');
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
    // (The agent's reader counts a resync as Connected, so "not Connected" also means not syncing.)
    const states = waitFor('split brain detected', 180, () => {
      const c = NODES.map((n) => drbdView(n).connection);
      return c.includes('StandAlone') && !c.includes('Connected') ? c : undefined;
    });
    const alone = NODES[states.indexOf('StandAlone')]!;
    expect(seen(alone, 'standalone-primary')).toMatchObject({ connection: 'StandAlone', role: 'Primary', disk: 'UpToDate', peerDisk: 'DUnknown' });
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
    waitFor('node2 resynced from node1', 300, () => drbdInSync('node2'));
    expect(agent('node1', 'demote').status).toBe(0);
    expect(agent('node2', 'promote').status).toBe(0);
    expect(labShOk('node2', READ, [], 120).trim()).toBe(sums.node1);
    expect(agent('node2', 'demote').status).toBe(0);
    for (const n of NODES) expect(agent(n, 'stop').status).toBe(0);
  });
});
