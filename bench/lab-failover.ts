// The lab-failover part: the failover gap an NFS client sees, with ocfkit's four agents and with the
// reference agents (ocf:linbit:drbd, ocf:heartbeat:Filesystem, nfsserver + exportfs, IPaddr2), in one
// lab run on the same cluster, DRBD resource, filesystem and client. Both stacks get the same
// structure (a promotable DRBD clone, then the filesystem, the NFS server and export, the address,
// colocated with the promoted instance and ordered), the same operations and the same fencing.
//
// Per failover: the gap is the longest pause between two records the client's writer saw
// acknowledged (NFSv4.2, fsync per record, a POSIX lock held) from the moment of the failure until it
// has written 20 more; "back" is when crm_mon shows the whole stack running again; "agents" is the sum
// of the execution times pacemaker-execd logged for the stack's non-monitor actions on both nodes in
// that time (what the agents themselves took, the rest is Pacemaker, fencing and NFS grace).
//
// BENCH_FAILOVERS (default 3): standby moves per stack; BENCH_KILLS (default 1): primary guests killed
// per stack; BENCH_STACKS (default "ocfkit,reference"); BENCH_LAB_KEEP=1 leaves the lab up; BENCH_TRACE=1
// sets trace_ra=1 on every primitive (/var/lib/heartbeat/trace_ra in the guests).
import { drbdPair, drbdSynced, labOk, labShOk, waitFor, xpath } from '../scripts/lab/host.ts';
import { labMissing, withFreshLab } from './lab-session.ts';
import * as lib from './lib.ts';
import type { OuterCtx } from './vip.ts';

const VIP = '192.0.2.100';
const DIR = '/srv/nfs';
const NODES = ['node1', 'node2'] as const;
type Node = (typeof NODES)[number];
type StackName = 'ocfkit' | 'reference';
const other = (n: Node): Node => (n === 'node1' ? 'node2' : 'node1');

interface Stack {
  clone: string;
  /** the DRBD primitive inside the clone */
  drbd: string;
  /** the resources after the clone, in start order */
  chain: string[];
  xml: string;
}

const op = (id: string, name: string, interval: string, extra = '') => `<op id="${id}-${name}-${interval}" name="${name}" interval="${interval}"${extra}/>`;
const nv = (id: string, pairs: Record<string, string>) =>
  Object.entries(pairs)
    .map(([k, v]) => `<nvpair id="${id}-${k}" name="${k}" value="${v}"/>`)
    .join('');
const primitive = (id: string, cls: string, params: Record<string, string>, ops: string) => {
  const [provider, type] = cls.split(':') as [string, string];
  // For profiling, not for the numbers: every command an action ran, with its time, in the node's trace_ra directory.
  if (process.env.BENCH_TRACE === '1') params = { ...params, trace_ra: '1' };
  return `<primitive id="${id}" class="ocf" provider="${provider}" type="${type}"><instance_attributes id="${id}-ia">${nv(`${id}-ia`, params)}</instance_attributes><operations>${ops}</operations></primitive>`;
};

/** The stack as CIB resources and constraints: the same shape for both, only the agents differ. */
export function stack(name: StackName): Stack {
  const p = name === 'ocfkit' ? 'ok' : 'ref';
  const agents =
    name === 'ocfkit'
      ? { drbd: 'ocfkit:drbd-promote', fs: 'ocfkit:fs-mount', ip: 'ocfkit:vip' }
      : { drbd: 'linbit:drbd', fs: 'heartbeat:Filesystem', ip: 'heartbeat:IPaddr2' };
  const clone = `${p}-drbd-clone`;
  const drbdId = `${p}-drbd`;
  const drbd = primitive(drbdId, agents.drbd, { drbd_resource: 'r0' }, op(drbdId, 'monitor', '10s', ' role="Promoted" timeout="60s"') + op(drbdId, 'monitor', '20s', ' role="Unpromoted" timeout="60s"'));
  const fs = primitive(`${p}-fs`, agents.fs, { device: '/dev/drbd0', directory: DIR, fstype: 'ext4' }, op(`${p}-fs`, 'monitor', '20s'));
  const nfs =
    name === 'ocfkit'
      ? [
          primitive(`${p}-export`, 'ocfkit:nfs-export', { directory: DIR, clientspec: '192.0.2.0/24', options: 'rw,sync,no_subtree_check,no_root_squash', fsid: 'root', nfs_shared_infodir: `${DIR}/.nfs-ok`, nfs_server_scope: VIP, nfs_ip: VIP, nfsv4_lease_time: '10' }, op(`${p}-export`, 'monitor', '10s')),
        ]
      : [
          // nfsserver's init-script mode: the guests run no systemd.
          primitive(`${p}-server`, 'heartbeat:nfsserver', { nfs_shared_infodir: `${DIR}/.nfs-ref`, nfs_ip: VIP, nfs_server_scope: VIP, nfs_init_script: '/etc/init.d/nfs-kernel-server' }, op(`${p}-server`, 'monitor', '10s')),
          primitive(`${p}-export`, 'heartbeat:exportfs', { directory: DIR, clientspec: '192.0.2.0/24', options: 'rw,sync,no_subtree_check,no_root_squash', fsid: '0' }, op(`${p}-export`, 'monitor', '10s')),
        ];
  // ocfkit's as `ocfkit stack` makes it: tickle ACKs from the NFS state directory. IPaddr2 has no such
  // parameter (a separate portblock resource would be needed, which few configure).
  const ipParams = { ip: VIP, cidr_netmask: '24', nic: 'eth0', ...(name === 'ocfkit' ? { tickle_dir: `${DIR}/.nfs-ok` } : {}) };
  const ip = primitive(`${p}-ip`, agents.ip, ipParams, op(`${p}-ip`, 'monitor', '10s'));
  const chain = [`${p}-fs`, ...(name === 'ocfkit' ? [`${p}-export`] : [`${p}-server`, `${p}-export`]), `${p}-ip`];
  const meta = nv(`${clone}-meta`, { promotable: 'true', 'promoted-max': '1', 'promoted-node-max': '1', 'clone-max': '2', 'clone-node-max': '1', notify: 'true' });
  const constraints = [
    `<rsc_colocation id="${p}-col-0" rsc="${chain[0]}" with-rsc="${clone}" with-rsc-role="Promoted" score="INFINITY"/>`,
    `<rsc_order id="${p}-ord-0" first="${clone}" first-action="promote" then="${chain[0]}" then-action="start"/>`,
    ...chain.slice(1).flatMap((r, i) => [
      `<rsc_colocation id="${p}-col-${i + 1}" rsc="${r}" with-rsc="${chain[i]}" score="INFINITY"/>`,
      `<rsc_order id="${p}-ord-${i + 1}" first="${chain[i]}" then="${r}"/>`,
    ]),
  ];
  const resources = [`<clone id="${clone}"><meta_attributes id="${clone}-meta">${meta}</meta_attributes>${drbd}</clone>`, fs, ...nfs, ip];
  return { clone, drbd: drbdId, chain, xml: `<configuration><resources>${resources.join('')}</resources><constraints>${constraints.join('')}</constraints></configuration>` };
}

/** crm_mon's XML on NODE. */
const crmMon = (node: Node) => labShOk(node, 'crm_mon -1 --output-as=xml', [], 60);

/** The node the whole stack runs on (promoted instance and every resource of the chain), or undefined. */
function stackNode(observer: Node, s: Stack): Node | undefined {
  const xml = crmMon(observer);
  const where = (id: string, role: string) => xpath(xml, `string(//resource[@id='${id}' and @role='${role}' and @failed='false']/node/@name)`);
  const promoted = where(s.drbd, 'Promoted');
  if (!promoted) return undefined;
  return s.chain.every((r) => where(r, 'Started') === promoted) ? (promoted as Node) : undefined;
}

/** Whether anything but the fence devices runs. */
const anyRunning = (observer: Node) => xpath(crmMon(observer), "count(//resources//resource[@active='true' and not(starts-with(@resource_agent,'stonith:'))])") !== '0';

// What a Debian node with nfs-kernel-server has after booting without systemd (the guests run
// none), on every node before either stack and again after a killed node comes back, so that the
// reference's nfsserver, in its init-script mode, finds what it relies on: rpcbind running (without
// it /etc/init.d/nfs-kernel-server starts no nfsd and exits 0, and rpc.statd cannot register) and an
// entry in /etc/exports (without one the script starts nothing and exits 0: "no exports"; operators
// on sysvinit keep one; here a small tmpfs, as the guests' overlay root cannot be exported). Both
// stacks' nfsd get the same 10 s lease, through nfs.conf for the reference (ocfkit's stack sets it as
// a parameter). Not grace-time: rpc.nfsd also writes it to lockd's nlm_grace_period (50 s by
// default), whose grace holds back new NFSv4 locks as well, and ocfkit's nfsv4_grace_time sets only
// nfsd's; both stacks keep nfsd's default 90 s.
const NFS_BOOT = `set -eu
pgrep -x rpcbind >/dev/null || /etc/init.d/rpcbind start >/dev/null
mkdir -p /srv/placeholder /etc/exports.d /etc/nfs.conf.d
mountpoint -q /srv/placeholder || mount -t tmpfs -o size=1m placeholder /srv/placeholder
echo '/srv/placeholder 127.0.0.1(ro,fsid=99,no_subtree_check)' >/etc/exports.d/lab-placeholder.exports
printf '[nfsd]\\nlease-time=10\\n' >/etc/nfs.conf.d/lab.conf`;

const CLIENT_UP = `set -eu
mkdir -p /mnt/bench
mount -t nfs4 -o vers=4.2,hard,timeo=10,retrans=3 "$1:/" /mnt/bench
rm -f /tmp/bench-stop /tmp/bench.ack
setsid python3 /lab/bin/nfs-writer "/mnt/bench/$2.dat" /tmp/bench.ack /tmp/bench-stop --lock </dev/null >/tmp/bench-writer.out 2>&1 &
# The first lock waits out lockd's grace period after the server's start (50 s).
for _ in $(seq 1 600); do grep -q '^[0-9]' /tmp/bench.ack 2>/dev/null && exit 0; sleep 0.2; done
echo "the writer acknowledged nothing"; cat /tmp/bench-writer.out; exit 1`;
const CLIENT_DOWN = `touch /tmp/bench-stop; for _ in $(seq 1 50); do grep -q STOPPED /tmp/bench.ack && break; sleep 0.2; done
umount -f -l /mnt/bench 2>/dev/null; :`;

/** The time of every acknowledgement so far, and the writer's errors. */
function acks(): { times: number[]; errors: string[] } {
  const out = { times: [] as number[], errors: [] as string[] };
  for (const line of labShOk('client', 'cat /tmp/bench.ack', [], 60).split('\n')) {
    const m = /^\d+ (\d+\.\d+)$/.exec(line);
    if (m) out.times.push(Number(m[1]));
    else if (line.startsWith('ERR')) out.errors.push(line);
  }
  return out;
}

/** The stack's non-monitor actions pacemaker-execd logged on NODE since guest time T0: "node rsc op", seconds. */
function agentActions(node: Node, t0: number, s: Stack): Array<[string, number]> {
  // "Dec 01 10:48:07.831 node1 pacemaker-execd [327] (log_finished) info: ok-export start (call 41, PID 921) exited with
  // status 0 (execution time 21.518s after being queued 50ms)"
  const ids = [s.drbd, ...s.chain];
  const text = labShOk(node, "grep -h 'pacemaker-execd.*log_finished' /var/log/pacemaker/pacemaker.log || :", [], 60);
  const year = new Date().getUTCFullYear();
  const out: Array<[string, number]> = [];
  for (const line of text.split('\n')) {
    const m = /^(\w{3} \d{2} \d{2}:\d{2}:\d{2}\.\d+) .*\(log_finished\)\s+\w+: (\S+) (\w+) \(call \d+[^)]*\).*execution time ([\d.]+)(m?s)\b/.exec(line);
    if (!m || m[3] === 'monitor') continue;
    if (!ids.some((id) => m[2] === id || m[2]!.startsWith(`${id}:`))) continue;
    if (Date.parse(`${m[1]} ${year} UTC`) / 1000 < t0) continue;
    out.push([`${node} ${m[2]} ${m[3]}`, lib.round3(Number(m[4]) / (m[5] === 'ms' ? 1000 : 1))]);
  }
  return out;
}

interface Failover {
  stack: StackName;
  kind: 'standby' | 'killed';
  from: Node;
  to: Node;
  gapS: number;
  backS: number;
  agentsS: number;
  /** each action counted in agentsS */
  actions: Array<[string, number]>;
  /** a graceful move during which the cluster fenced the node it moved from (a stop failed there) */
  fenced: boolean;
}

const guestNow = (node: Node | 'client') => Number(labShOk(node, 'date +%s.%N', [], 30).trim());

/** One failover of the stack running on FROM; its numbers. */
function failover(name: StackName, s: Stack, kind: Failover['kind'], from: Node): Failover {
  const to = other(from);
  const t0Guest = guestNow(to);
  const t0Client = guestNow('client');
  const t0 = Date.now();
  if (kind === 'standby') labShOk(to, 'crm_attribute -N "$1" -n standby -v on', [from], 60);
  else labOk(['kill', from], 60);
  waitFor(`the ${name} stack on ${to}`, 900, () => (stackNode(to, s) === to ? true : undefined), 3);
  const backS = (Date.now() - t0) / 1000;
  const base = acks().times.filter((t) => t >= t0Client).length;
  waitFor('the client writing again', 600, () => (acks().times.filter((t) => t >= t0Client).length >= base + 20 ? true : undefined), 3);
  const a = acks();
  if (a.errors.length > 0) throw new lib.BenchFailure(`${name}, ${kind}: the client's writer failed: ${a.errors.join('; ')}`);
  let gapS = 0;
  for (let i = 1; i < a.times.length; i++) if (a.times[i]! >= t0Client) gapS = Math.max(gapS, a.times[i]! - a.times[i - 1]!);
  // A stop that fails on the node being emptied gets it fenced: it comes back without the cluster.
  const fenced = kind === 'standby' && xpath(crmMon(to), `string(//nodes/node[@name='${from}']/@online)`) !== 'true';
  // A killed or fenced node's log went with it.
  const actions = [...agentActions(to, t0Guest, s), ...(kind === 'standby' && !fenced ? agentActions(from, t0Guest, s) : [])];
  const agentsS = actions.reduce((sum, [, sec]) => sum + sec, 0);
  // Back to both nodes, the stack staying where it is (stickiness).
  if (kind === 'standby') labShOk(to, 'crm_attribute -N "$1" -n standby -v off', [from], 60);
  if (kind === 'killed' || fenced) {
    labOk(['wait', from, '300'], 360);
    labShOk(from, NFS_BOOT, [], 120);
    labShOk(from, 'bash /lab/bin/drbd-lab config fencing', [], 60);
    labOk(['cluster'], 900);
  }
  waitFor(`${from} UpToDate again`, 900, () => (drbdSynced(from) ? true : undefined), 5);
  return { stack: name, kind, from, to, gapS: lib.round3(gapS), backS: lib.round3(backS), agentsS: lib.round3(agentsS), actions, fenced };
}

const slowest = (f: Failover) =>
  [...f.actions]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([what, sec]) => `${what} ${sec}s`)
    .join(', ');

/** Pushes the stack, runs its failovers under the client's writes (each handed to DONE), removes it again. */
function runStack(name: StackName, failovers: number, kills: number, done: (f: Failover) => void): void {
  const s = stack(name);
  labShOk('node1', 'cibadmin --modify --allow-create -o configuration -X "$1"', [s.xml], 120);
  let on = waitFor(`the ${name} stack running`, 900, () => stackNode('node1', s), 5);
  labShOk('client', CLIENT_UP, [VIP, name], 300);
  for (let i = 0; i < failovers; i++) {
    const f = failover(name, s, 'standby', on);
    process.stdout.write(`bench: ${name} standby ${on} → ${f.to}${f.fenced ? ` (${on} fenced: a stop failed there)` : ''}: gap ${f.gapS}s, stack back ${f.backS}s, agents ${f.agentsS}s (slowest: ${slowest(f)})\n`);
    done(f);
    on = f.to;
  }
  for (let i = 0; i < kills; i++) {
    const f = failover(name, s, 'killed', on);
    process.stdout.write(`bench: ${name} ${on} killed → ${f.to}: gap ${f.gapS}s, stack back ${f.backS}s, agents ${f.agentsS}s (slowest: ${slowest(f)})\n`);
    done(f);
    on = f.to;
  }
  labShOk('client', CLIENT_DOWN, [], 120);
  // Stopped in order by Pacemaker, then removed.
  labShOk('node1', 'crm_resource -r "$1" --meta -p target-role -v Stopped', [s.clone], 60);
  waitFor(`the ${name} stack stopped`, 600, () => (anyRunning('node1') ? undefined : true), 5);
  labShOk('node1', 'cibadmin --replace -o constraints -X "<constraints/>" && cibadmin -D -o resources -X "$1" && for r in "${@:2}"; do cibadmin -D -o resources -X "<primitive id=\\"$r\\"/>"; done', [`<clone id="${s.clone}"/>`, ...s.chain], 120);
}

export function missing(): string[] {
  return labMissing(['linbit/drbd', 'heartbeat/Filesystem', 'heartbeat/nfsserver', 'heartbeat/exportfs', 'heartbeat/IPaddr2'].map((r) => `/usr/lib/ocf/resource.d/${r}`));
}

const median = (xs: number[]) => (xs.length === 0 ? Number.NaN : lib.pct(xs, 0.5));

type Summary = Record<string, Record<string, { gap: number; back: number; agents: number; n: number }>>;

/** Medians per kind of failover and stack, and the table rows (with the ratio where both stacks have numbers). */
function summarize(all: Failover[], stacks: StackName[]): { summary: Summary; rows: string[][] } {
  const rows: string[][] = [];
  const summary: Summary = {};
  for (const kind of ['standby', 'killed'] as const) {
    for (const name of stacks) {
      const fs = all.filter((f) => f.stack === name && f.kind === kind);
      if (fs.length === 0) continue;
      const m = { gap: median(fs.map((f) => f.gapS)), back: median(fs.map((f) => f.backS)), agents: median(fs.map((f) => f.agentsS)), n: fs.length };
      (summary[kind] ??= {})[name] = m;
      rows.push([kind, name, String(m.n), lib.fmt(m.gap), lib.fmt(m.back), lib.fmt(m.agents), String(fs.filter((f) => f.fenced).length)]);
    }
    const o = summary[kind]?.ocfkit;
    const r = summary[kind]?.reference;
    if (o && r) rows.push([kind, 'ratio ocfkit/reference', '', lib.fmt(o.gap / r.gap, 2), lib.fmt(o.back / r.back, 2), lib.fmt(o.agents / r.agents, 2), '']);
  }
  return { summary, rows };
}

export async function outer(ctx: OuterCtx): Promise<number> {
  const failovers = lib.envInt('BENCH_FAILOVERS', 3, 0);
  const kills = lib.envInt('BENCH_KILLS', 1, 0);
  const stacks = (process.env.BENCH_STACKS ?? 'ocfkit,reference').split(',').filter((x): x is StackName => x === 'ocfkit' || x === 'reference');
  const date = new Date().toISOString();
  const all: Failover[] = [];
  const failed: Partial<Record<StackName, string>> = {};
  // One file, rewritten after every failover: a run cut short (a run takes an hour or more) keeps what it measured.
  const save = (complete: boolean) => lib.writeResults('lab-failover', date, { meta: { date, failovers, kills, stacks, complete }, failovers: all, summary: summarize(all, stacks).summary, failed });
  await withFreshLab(ctx, ['--client'], () => {
    const unsynced = drbdPair({ fencing: true });
    if (unsynced) throw new lib.BenchFailure(unsynced);
    labShOk('node1', 'set -eu; drbdadm primary r0; mkfs.ext4 -q -F /dev/drbd0; drbdadm secondary r0', [], 300);
    for (const n of NODES) labShOk(n, 'drbdadm down r0', [], 60);
    for (const n of NODES) labShOk(n, NFS_BOOT, [], 120);
    labOk(['cluster'], 900);
    for (const name of stacks) {
      try {
        runStack(name, failovers, kills, (f) => {
          all.push(f);
          save(false);
        });
      } catch (e) {
        // One stack failing (the reference's nfsserver did in the lab) still reports the other.
        if (!(e instanceof Error)) throw e;
        process.stdout.write(`bench: the ${name} stack failed: ${e.message}\n`);
        failed[name] = e.message.slice(0, 2000);
        save(false);
        break;
      }
    }
  });
  process.stdout.write(
    `\nocfkit bench: lab-failover — the NFSv4.2 client's longest pause per failover, medians (s; TCG guests)\n\n` +
      lib.table(['failover', 'stack', 'n', 'gap', 'stack back', 'agents', 'fenced'], summarize(all, stacks).rows, 2) +
      '\n',
  );
  process.stdout.write(`raw numbers: ${save(true)}\n`);
  return 0;
}

export async function inner(): Promise<void> {
  // Everything runs in the lab's guests.
}
