/**
 * The whole HA NFS stack in the lab, as the demo (scripts/lab/demo.ts) and the stack test
 * (test/lab/stack.test.ts) both drive it: the `ocfkit stack` plan on the fenced two-node cluster,
 * a client guest writing numbered, fsynced records over NFSv4.2 (holding a POSIX lock) and NFSv3
 * through the floating address, and the readings both report from (crm_mon's XML, the writers'
 * acknowledgements, the records on the disk, the transitions the DC computed). No test framework:
 * every failure is a thrown Error naming what did not happen.
 */
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseGraph, sentences } from '../../commands/stack/simulate';
import { type Node, crmMon, drbdPair, labDir, labExec, labSh, labShOk, root, waitFor, writeLockHeld, xpath } from './host';

export const NODES: readonly Node[] = ['node1', 'node2'];
export const VIP = '192.0.2.100';
export const DIR = '/srv/nfs';
const WRITER = '/lab/bin/nfs-writer';
export const WRITERS = ['w4', 'w3'] as const;
export type Writer = (typeof WRITERS)[number];
// The export is the NFSv4 pseudo-root (fsid=root): the guests' own root is overlayfs on 9p, which
// nfsd cannot walk for a pseudo-root (see docs/lab.md). v3 mounts it by path.
export const STACK = [
  '--nodes', 'node1,node2', '--drbd-resource', 'r0', '--device', '/dev/drbd0', '--directory', DIR, '--fstype', 'ext4',
  '--ip', `${VIP}/24`, '--nic', 'eth0', '--clients', '192.0.2.0/24', '--export-options', 'rw,sync,no_subtree_check,no_root_squash',
  '--fsid', 'root', '--infodir', `${DIR}/.nfs-state`, '--nfsv4-lease-time', '10', '--fencing', 'fence_ocfkit_lab',
];
/** The promotable clone `ocfkit stack` names for r0's service, and its DRBD primitive. */
export const CLONE = 'nfs-drbd-clone';
export const DRBD_RSC = 'nfs-drbd';

/**
 * Hooked by the demo for its live line: called on every poll of a wait with what it waits for
 * and since when (ms).
 */
export const progress: { onPoll?: (what: string, sinceMs: number) => void } = {};

/** waitFor, reporting each poll to progress.onPoll. */
export function watch<T>(what: string, timeoutS: number, fn: () => T | undefined | false, stepS = 2): T {
  const t0 = Date.now();
  return waitFor(what, timeoutS, () => {
    progress.onPoll?.(what, t0);
    return fn();
  }, stepS);
}

// node1, Primary once: the filesystem the stack mounts.
const MKFS = `set -eu
drbdadm primary r0
mkfs.ext4 -q -F /dev/drbd0
drbdadm secondary r0`;

/**
 * r0 synced, with ext4, down for Pacemaker: as the stack runs it (resource-and-stonith, crm-fence-peer
 * handlers), or without fencing, as two sites run it (the peer is in another cluster).
 */
export function prepareDrbd(fencing = true): void {
  const pair = drbdPair({ fencing });
  if (pair) throw new Error(pair);
  const fs = labSh('node1', MKFS, [], 300);
  if (fs.status !== 0) throw new Error(`mkfs failed:\n${fs.out}`);
  // Pacemaker brings DRBD up itself.
  for (const n of NODES) labShOk(n, 'drbdadm down r0', [], 60);
}

// NODE's CIB → $1; after the host's command changed the copy $2: the difference pushed in one change,
// as `ocfkit stack apply --live` pushes it, with the guest's own C tools. With the versions in the
// patch: the CIB manager refuses it (exit 103, "Update was older than existing configuration") when
// anything changed the CIB since it was read (a cleanup's last-lrm-refresh, a fence-peer constraint,
// a resource's status), and the change is computed again from a fresh read (changeCib). Without
// them (pcs cluster cib-push diff-against=) it would go in over a change it never saw.
// Exit 0: pushed or nothing to push (it says which); 75: the CIB moved, read again.
export const PUSH = `set -u
crm_diff --original "$1" --new "$2" >"$3"; rc=$?
[ "$rc" = 0 ] && { echo "no change to push"; exit 0; }
[ "$rc" = 1 ] || { echo "crm_diff exited $rc"; exit 1; }
cibadmin --patch --xml-file "$3"; rc=$?
[ "$rc" = 0 ] && { echo pushed; exit 0; }
[ "$rc" = 103 ] && exit 75
exit "$rc"`;
/** How often changeCib reads again after a push refused for a CIB that moved. */
const PUSH_TRIES = 4;

// In the caller's private mount namespace: the lab's fence agent ($1) among the host's /usr/sbin, where
// pcs looks for it when it checks \`pcs stonith create … fence_ocfkit_lab\` (the guests install it at
// boot; the host has none); $2 a scratch directory; then the command.
const WITH_FENCE_AGENT = `set -e
mkdir -p "$2/sbin" && cp "$1" "$2/sbin/"
mount -t overlay lab-sbin -o "lowerdir=$2/sbin:/usr/sbin" /usr/sbin
shift 2
exec "$@"`;

/**
 * A configuration change planned on the host and pushed to NODE's cluster in one change: HOSTCMD,
 * with the path of a copy of NODE's live CIB as its last word, runs in a private mount namespace
 * where ocf:ocfkit:* exist (pcs checks each agent's meta-data); then the difference is patched in.
 * What \`ocfkit stack apply --live\` does in a node, but with the host's pcs: pcs starts in 0.5 s on
 * the host and in 20-30 s in a TCG guest, and a plan is 15 pcs calls (apply --live itself is proven
 * on a real one-node cluster by test/integration/stack.test.ts). A push refused because the CIB
 * moved meanwhile is planned again from a fresh read, PUSH_TRIES times at most. TAG names the files
 * on the share. Returns what HOSTCMD printed, and what became of each push.
 */
export function changeCib(node: Node, tag: string, what: string, hostCmd: readonly string[]): string {
  const dir = join(labDir, 'run', 'share', 'cib');
  mkdirSync(dir, { recursive: true });
  const [live, next, patch] = ['live', 'new', 'patch'].map((k) => `${k}-${tag}.xml`);
  const printed: string[] = [];
  for (let attempt = 1; attempt <= PUSH_TRIES; attempt++) {
    labShOk(node, 'cibadmin --query >"$1"', [`/lab/cib/${live}`], 60);
    copyFileSync(join(dir, live!), join(dir, next!));
    const sandbox = mkdtempSync(join(tmpdir(), 'ocfkit-lab-cib-'));
    let r: SpawnSyncReturns<string>;
    try {
      r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'bash', '-c', WITH_FENCE_AGENT, 'lab-fence-agent', join(root, 'scripts', 'lab', 'guest', 'fence_ocfkit_lab'), sandbox,
        'bash', join(root, 'scripts', 'ocf-sandbox.sh'), sandbox, ...hostCmd, join(dir, next!)], { encoding: 'utf8', timeout: 300_000 });
    } finally {
      rmSync(sandbox, { recursive: true, force: true });
    }
    if (r.status !== 0) throw new Error(`${what} exited ${r.status}:\n${r.stdout}${r.stderr}`);
    printed.push(r.stdout);
    const p = labSh(node, PUSH, [`/lab/cib/${live}`, `/lab/cib/${next}`, `/lab/cib/${patch}`], 120);
    if (p.status === 0) return `${printed.join('')}(${node}: ${p.stdout.trim()})\n`;
    if (p.status !== 75) throw new Error(`${node}: pushing ${what} exited ${p.status}:\n${p.out}`);
    printed.push(`(${node}: the CIB changed since it was read; nothing pushed, reading it again)\n`);
  }
  throw new Error(`${what}: ${node}'s CIB changed between each of ${PUSH_TRIES} readings and its push:\n${printed.join('')}`);
}

/**
 * The \`ocfkit stack\` plan for the lab's cluster: \`ocfkit stack apply\` on the host against a copy of
 * node1's CIB, pushed there in one change. Returns what it printed.
 */
export function applyStack(): string {
  return changeCib('node1', 'stack', 'ocfkit stack apply', [join(root, 'dist', 'ocfkit'), 'stack', 'apply', ...STACK, '--cib']);
}

// client: both mounts through the floating address (hard: a failover is a pause, never an error),
// and the two writers, detached.
const CLIENT_START = `set -eu
mkdir -p /mnt/v4 /mnt/v3
mount -t nfs4 -o vers=4.2,hard,timeo=10,retrans=3 "$1:/" /mnt/v4
mount -t nfs -o vers=3,hard,timeo=10,retrans=3,nolock "$1:$2" /mnt/v3
rm -f /tmp/stop-writers
setsid python3 "$3" /mnt/v4/w4.dat /tmp/w4.ack /tmp/stop-writers --lock </dev/null >/tmp/w4.out 2>&1 &
setsid python3 "$3" /mnt/v3/w3.dat /tmp/w3.ack /tmp/stop-writers </dev/null >/tmp/w3.out 2>&1 &
for _ in $(seq 1 100); do [ -s /tmp/w4.ack ] && [ -s /tmp/w3.ack ] && break; sleep 0.2; done
cat /tmp/w4.ack /tmp/w3.ack | tail -n 2`;

/** The client mounts through the floating address and both writers start. */
export function startClient(): void {
  const c = labSh('client', CLIENT_START, [VIP, DIR, WRITER], 300);
  if (c.status !== 0) throw new Error(`the client did not start writing:\n${c.out}`);
}

/** The writers stop (each writes STOPPED to its log). */
export function stopWriters(): void {
  labShOk('client', 'touch /tmp/stop-writers; for _ in $(seq 1 100); do grep -q STOPPED /tmp/w4.ack && grep -q STOPPED /tmp/w3.ack && exit 0; sleep 0.3; done; exit 1', [], 120);
}

export interface Acks {
  /** acknowledged record numbers */
  acked: number[];
  /** [time, number] of each acknowledgement */
  times: Array<[number, number]>;
  errors: string[];
}

const ackLog = (w: Writer) => `/tmp/${w}.ack`;

export function parseAcks(text: string): Acks {
  const out: Acks = { acked: [], times: [], errors: [] };
  for (const line of text.split('\n')) {
    const m = /^(\d+) (\d+\.\d+)$/.exec(line);
    if (m) {
      out.acked.push(Number(m[1]));
      out.times.push([Number(m[2]), Number(m[1])]);
    } else if (line.startsWith('ERR')) out.errors.push(line);
  }
  return out;
}

/**
 * Both writers' logs, read in one command in the client (no shell): in TCG every command the
 * client starts costs it a tenth of a second of CPU, and the tests poll these logs all along.
 */
export function allAcks(): Record<Writer, Acks> {
  const r = labExec('client', ['tail', '-n', '+1', ...WRITERS.map(ackLog)], 60);
  if (r.status !== 0) throw new Error(`reading the writers' logs failed:\n${r.out}`);
  const out = {} as Record<Writer, Acks>;
  // tail heads each file's text with "==> FILE <==" when given more than one.
  for (const w of WRITERS) {
    const head = `==> ${ackLog(w)} <==\n`;
    const at = r.stdout.indexOf(head);
    if (at < 0) throw new Error(`no ${ackLog(w)} in the client's answer:\n${r.out.slice(0, 500)}`);
    const next = r.stdout.indexOf('\n==> ', at + head.length);
    out[w] = parseAcks(r.stdout.slice(at + head.length, next < 0 ? undefined : next));
  }
  return out;
}

export const acks = (name: Writer): Acks => allAcks()[name];

/**
 * The longest pause between two acknowledgements from the FROMth on, up to the TOth (seconds): the
 * client's view of a failover.
 */
export function longestGap(a: Acks, from: number, to = a.times.length): number {
  let gap = 0;
  for (let i = Math.max(1, from); i < Math.min(to, a.times.length); i++) gap = Math.max(gap, a.times[i]![0] - a.times[i - 1]![0]);
  return gap;
}

export type Counts = Record<Writer, number>;
/** How many records each writer saw acknowledged, counted in the client (one command, a short answer). */
export function ackCounts(): Counts {
  // The lines parseAcks takes for acknowledgements.
  const r = labExec('client', ['grep', '-c', '-E', '^[0-9]+ [0-9]+\\.[0-9]+$', ...WRITERS.map(ackLog)], 60);
  // grep exits 1 when no line matched in any file: both counts are 0 then.
  if (r.status !== 0 && r.status !== 1) throw new Error(`counting the writers' records failed:\n${r.out}`);
  const count = (w: Writer) => Number(new RegExp(`^${ackLog(w)}:(\\d+)$`, 'm').exec(r.stdout)?.[1] ?? Number.NaN);
  const c = { w4: count('w4'), w3: count('w3') };
  if (Number.isNaN(c.w4) || Number.isNaN(c.w3)) throw new Error(`no counts in the client's answer:\n${r.out}`);
  return c;
}
export const round1 = (x: number) => Math.round(x * 10) / 10;

/** Each writer's longest pause since the counts C, up to the counts UNTIL (s). */
export function gapsBetween(c: Counts, until?: Counts): { v4: number; v3: number } {
  const a = allAcks();
  return { v4: round1(longestGap(a.w4, c.w4, until?.w4)), v3: round1(longestGap(a.w3, c.w3, until?.w3)) };
}

/** Both writers' errors so far; throws naming them when there are any. */
export function writersClean(): void {
  const a = allAcks();
  const errors = WRITERS.flatMap((w) => a[w].errors.map((e) => `${w}: ${e}`));
  if (errors.length > 0) throw new Error(`the client's writers failed:\n${errors.join('\n')}`);
}

/** Waits until both writers acknowledged at least MORE records past what they had. */
export function writersProgress(more = 20, timeoutS = 300): void {
  const base = ackCounts();
  watch(`both writers to acknowledge ${more} more records`, timeoutS, () => {
    const c = ackCounts();
    return c.w4 >= base.w4 + more && c.w3 >= base.w3 + more;
  }, 3);
}

/**
 * The records each writer saw acknowledged that are missing from its file on SERVER: the demo's
 * "0 lost" and the stack test's check of it.
 */
export function lostRecords(server: Node): Record<Writer, { acked: number; lost: number[] }> {
  const out = {} as Record<Writer, { acked: number; lost: number[] }>;
  const all = allAcks();
  for (const w of WRITERS) {
    const a = all[w];
    // A record ends its line; a client that appended past a shorter file (served from an older copy) leaves a hole of NULs before it.
    const onDisk = new Set(labShOk(server, 'cat "$1"', [`${DIR}/${w}.dat`], 120).split('\n').map((l) => Number(/(\d{10}) \d+\.\d{3}$/.exec(l)?.[1] ?? 0)).filter((n) => n > 0));
    out[w] = { acked: a.acked.length, lost: a.acked.filter((n) => !onDisk.has(n)) };
  }
  return out;
}

export interface Placement {
  promoted: string;
  fs: string;
  exp: string;
  ip: string;
  /** the site service's application (nfs-app), '' where there is none */
  app: string;
  failed: string;
}

/** Where each part of the stack runs, from crm_mon's XML on NODE (a node name, or '' when stopped). */
export function placement(node: Node): Placement {
  const xml = crmMon(node).xml;
  const on = (id: string) => xpath(xml, `string(//resource[@id='${id}' and @role='Started' and @failed='false']/node/@name)`);
  return {
    promoted: xpath(xml, `string(//clone[@id='${CLONE}']/resource[@role='Promoted']/node/@name)`),
    fs: on('nfs-fs'),
    exp: on('nfs-export'),
    ip: on('nfs-ip'),
    app: on('nfs-app'),
    failed: xpath(xml, 'string(//failures/failure[1]/@op_key)'),
  };
}

/** Waits until the whole stack runs on one node (ON, or either when undefined); returns it. */
export function stackOn(observer: Node, on: Node | undefined, timeoutS = 600): Node {
  return watch(`the stack running on ${on ?? 'one node'}`, timeoutS, () => {
    const p = placement(observer);
    const n = p.promoted;
    return n !== '' && (on === undefined || n === on) && p.fs === n && p.exp === n && p.ip === n ? (n as Node) : undefined;
  }, 5);
}

/** The nodes where the DRBD clone runs Unpromoted, from crm_mon's XML on OBSERVER. */
export function unpromoted(observer: Node): string[] {
  const xml = crmMon(observer).xml;
  const n = Number(xpath(xml, `count(//clone[@id='${CLONE}']/resource[@role='Unpromoted'])`));
  return Array.from({ length: n }, (_, i) => xpath(xml, `string((//clone[@id='${CLONE}']/resource[@role='Unpromoted'])[${i + 1}]/node/@name)`));
}

/** The v4 writer's lock, as the server holding the export sees it: a POSIX write lock on w4.dat. */
export const lockHeldOn = (server: Node): boolean => writeLockHeld(server, `${DIR}/w4.dat`);

export const other = (n: Node): Node => (n === 'node1' ? 'node2' : 'node1');

/**
 * `pcs status` of the cluster as it is now: the CIB with its status section taken on OBSERVER,
 * shown by the host's pcs (`pcs -f`, with the guests' corosync.conf): the same text as in the
 * guest, without the ~25 s that starting pcs takes there under TCG.
 */
export function pcsStatus(observer: Node): string {
  const dir = mkdtempSync(join(tmpdir(), 'ocfkit-lab-pcs-'));
  try {
    const cib = join(dir, 'cib.xml');
    const conf = join(dir, 'corosync.conf');
    writeFileSync(cib, labShOk(observer, 'cibadmin --query', [], 60));
    writeFileSync(conf, labShOk(observer, 'cat /etc/corosync/corosync.conf', [], 30));
    const r = spawnSync('pcs', ['-f', cib, '--corosync_conf', conf, 'status'], { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`pcs -f … status exited ${r.status}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A mark on NODES (a file's mtime) from which transitionsSince() reads what the cluster did. */
export function markTransitions(tag: string, nodes: readonly Node[] = NODES): void {
  for (const n of nodes) labShOk(n, 'touch "/tmp/transitions-$1"', [tag], 30);
}

export interface Transition {
  /** where the DC saved the scheduler's input: node:file */
  input: string;
  /** the transition as sentences (commands/stack/simulate.ts) */
  actions: string[];
}

// The scheduler's inputs the DC saved since the mark (pe-warn-* when it fences, pe-error-* when it
// found errors), copied to the share with their times kept.
const COPY_PE = `set -eu
out=/lab/transitions/$1/$(hostname); mkdir -p "$out"
find /var/lib/pacemaker/pengine -name 'pe-*.bz2' -newer "/tmp/transitions-$1" -exec cp -p {} "$out/" \\;`;

/**
 * What the cluster did since markTransitions(TAG), as `ocfkit stack simulate` reads it: each
 * scheduler input the DC saved, replayed by crm_simulate on the host (-G, the transition graph)
 * and told as sentences, in the order the DCs computed them; transitions with nothing to do left
 * out. Nodes that do not answer (a killed one) are skipped.
 */
export function transitionsSince(tag: string, nodes: readonly Node[] = NODES): Transition[] {
  const base = join(labDir, 'run', 'share', 'transitions', tag);
  rmSync(base, { recursive: true, force: true });
  for (const n of nodes) labSh(n, COPY_PE, [tag], 60);
  const files: Array<{ node: string; name: string; path: string; mtime: number; seq: number }> = [];
  for (const node of safeList(base)) {
    for (const name of safeList(join(base, node))) {
      const path = join(base, node, name);
      files.push({ node, name, path, mtime: statSync(path).mtimeMs, seq: Number(/-(\d+)\.bz2$/.exec(name)?.[1] ?? 0) });
    }
  }
  files.sort((a, b) => a.mtime - b.mtime || a.seq - b.seq);
  const out: Transition[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'ocfkit-lab-pe-'));
  try {
    for (const f of files) {
      const graph = join(dir, 'graph.xml');
      const r = spawnSync('crm_simulate', ['-x', f.path, '-R', '-G', graph], { encoding: 'utf8', timeout: 60_000 });
      if (r.status !== 0) throw new Error(`crm_simulate -x ${f.node}:${f.name} exited ${r.status}: ${r.stderr}`);
      const actions = sentences(parseGraph(readFileSync(graph, 'utf8')));
      if (actions.length > 0) out.push({ input: `${f.node}:${f.name}`, actions });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(base, { recursive: true, force: true });
  }
  return out;
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}
