/**
 * The lab driven from the host (scripts/lab/lab.sh): two guests node1 and node2 on Debian's 6.1
 * kernel (DRBD 8.4, or a DRBD 9 module installed for that kernel; kernel nfsd), linked privately (192.0.2.11, 192.0.2.12) and by DRBD's own link,
 * with a hand-started Corosync + Pacemaker cluster and a fence device that resets a guest's qemu.
 * Shared by the lab tests (test/lab/lab.ts adds their vitest hooks) and the bench's lab parts, so
 * it imports no test framework.
 *
 * Every command is an argv array; guest-side shell scripts are constants that take their values as
 * positional parameters ($1, $2 ...), never text built from variables.
 */
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const labScript = join(root, 'scripts', 'lab', 'lab.sh');
export const labDir = process.env.LAB_DIR ?? '/var/tmp/ocfkit-lab';

export type Node = 'node1' | 'node2' | 'client';

/** The guest script that configures, creates and syncs the lab's DRBD resource r0 (scripts/lab/guest/drbd-lab). */
export const DRBD_LAB = '/lab/bin/drbd-lab';

/**
 * r0 made on both nodes and fully synced from node1, then Secondary on both, as a new pair is
 * handed over; undefined, or what failed. node1 does not wait for its peer (node2 is set up after
 * it: waiting cost a minute in vain each time). SYNC_COPY: where node1 keeps the state mid-sync
 * (/proc/drbd on 8.4, `drbdsetup events2 --now r0` on 9).
 */
export function drbdPair(opts: { syncCopy?: string; fencing?: boolean } = {}): string | undefined {
  const fencing = opts.fencing ? ['fencing'] : [];
  const steps: Array<[Node, string[]]> = [
    ['node1', ['setup', 'nowait', ...fencing]],
    ['node2', ['setup', ...fencing]],
  ];
  for (const [n, args] of steps) {
    const s = labExec(n, ['bash', DRBD_LAB, ...args], 180);
    if (s.status !== 0) return `DRBD setup on ${n} failed:\n${s.out}`;
  }
  const sync = labExec('node1', ['bash', DRBD_LAB, 'sync', ...(opts.syncCopy ? [opts.syncCopy] : [])], 600);
  if (sync.status !== 0 || !sync.stdout.includes('UpToDate/UpToDate')) return `initial sync failed:\n${sync.out}`;
  return undefined;
}

/**
 * The NFS server dies under a running export, as in a crash: its daemons killed (rpc.mountd,
 * nfsdcld) and the kernel threads gone. SIGKILL does not end nfsd threads on Linux 6.1 (measured:
 * they stay), so they are stopped through the kernel's interface, as \`rpc.nfsd 0\` does; the
 * exports stay in the table.
 */
export const KILL_NFS_SERVER = `pkill -KILL -x rpc.mountd; pkill -KILL -x nfsdcld; echo 0 >/proc/fs/nfsd/threads; [ "$(cat /proc/fs/nfsd/threads)" = 0 ]`;

export interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr, for assertion messages. */
  out: string;
  seconds: number;
}

function result(r: SpawnSyncReturns<string>, t0: number): Result {
  const stdout = r.stdout ?? '';
  const stderr = (r.stderr ?? '') + (r.error ? `\n[spawn error: ${r.error.message}]` : '');
  return { status: r.status, stdout, stderr, out: `${stdout}${stderr}`, seconds: (Date.now() - t0) / 1000 };
}

/** Runs `lab.sh ARGS...` on the host. timeoutS bounds it (SIGTERM, then the result says so). */
export function lab(args: string[], timeoutS = 600): Result {
  const t0 = Date.now();
  const r = spawnSync('bash', [labScript, ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: timeoutS * 1000,
    killSignal: 'SIGTERM',
    maxBuffer: 64 * 1024 * 1024,
  });
  const res = result(r, t0);
  trace(`${res.seconds.toFixed(2)}s rc=${res.status} lab.sh ${args.join(' ').replace(/\s+/g, ' ').slice(0, 160)}`);
  return res;
}

/** LAB_TRACE=FILE: every lab.sh call and wait, timed, one line each (where a test's minutes go). */
function trace(line: string): void {
  if (process.env.LAB_TRACE) appendFileSync(process.env.LAB_TRACE, `${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

/** Like lab(), but throws (with the whole output) unless it exits 0. */
export function labOk(args: string[], timeoutS = 600): Result {
  const r = lab(args, timeoutS);
  if (r.status !== 0) throw new Error(`lab.sh ${args.join(' ')} exited ${r.status}:\n${r.out}`);
  return r;
}

/** Runs ARGV inside NODE (no shell), bounded by timeoutS inside the guest. */
export function labExec(node: Node, argv: string[], timeoutS = 300): Result {
  return lab(['exec', '-t', String(timeoutS), node, ...argv], timeoutS + 60);
}

/** Runs a constant bash SCRIPT inside NODE with ARGS as $1, $2 ... */
export function labSh(node: Node, script: string, args: string[] = [], timeoutS = 300): Result {
  return labExec(node, ['bash', '-c', script, 'lab-sh', ...args], timeoutS);
}

/**
 * Whether r0 on NODE has UpToDate data on both sides, in drbdadm's words (`dstate` prints
 * local/peer on 8.4 and 9 alike). For the bench, which runs under plain Node and cannot import the
 * agent's parsers; the lab tests read the state through them (test/lab/lab.ts, drbdView).
 */
export const drbdSynced = (node: Node): boolean => labShOk(node, 'drbdadm dstate r0', [], 30).trim() === 'UpToDate/UpToDate';

/** Whether the kernel on node holds a POSIX write lock on file (as /proc/locks shows it, by inode). */
export function writeLockHeld(node: Node, file: string): boolean {
  const r = labSh(node, 'ino=$(stat -c %i "$1") && grep -E "POSIX +ADVISORY +WRITE .*:$ino " /proc/locks', [file], 60);
  return r.status === 0 && r.stdout.trim() !== '';
}

/** labSh that throws unless the script exits 0; returns its stdout. */
export function labShOk(node: Node, script: string, args: string[] = [], timeoutS = 300): string {
  const r = labSh(node, script, args, timeoutS);
  if (r.status !== 0) throw new Error(`${node}: script exited ${r.status}:\n${script}\n--- output:\n${r.out}`);
  return r.stdout;
}

/** Evaluates an XPath expression on XML with the host's xmllint (a real parser); returns its text. */
export function xpath(xml: string, expr: string): string {
  const r = spawnSync('xmllint', ['--xpath', expr, '-'], { input: xml, encoding: 'utf8', timeout: 20_000 });
  if (r.error) throw r.error;
  // xmllint exits 10 when a node-set is empty; string(), count() and boolean() always answer.
  if (r.status !== 0 && r.status !== 10) throw new Error(`xmllint --xpath ${expr}: ${r.stderr}`);
  return r.stdout.trim();
}

export interface NodeState {
  name: string;
  online: boolean;
  pending: boolean;
  unclean: boolean;
  dc: boolean;
}

export interface ClusterState {
  xml: string;
  dc: string;
  quorum: boolean;
  nodes: NodeState[];
}

/**
 * lib/cluster's CRM_MON_XML, written out: the benchmarks load this file under Node's type stripping,
 * where lib's extensionless imports do not resolve (test/unit/lab-reader.test.ts holds the two equal).
 */
export const LAB_CRM_MON_XML: readonly string[] = ['crm_mon', '-1', '--output-as=xml', '--inactive', '--fence-history=0'];

/** crm_mon's XML taken on NODE as the product reads it (without the fencer), parsed. */
export function crmMon(node: Node): ClusterState {
  const r = labExec(node, [...LAB_CRM_MON_XML], 60);
  if (r.status !== 0) throw new Error(`crm_mon on ${node} exited ${r.status}: ${r.out}`);
  const xml = r.stdout;
  const count = Number(xpath(xml, 'count(//nodes/node)'));
  const nodes: NodeState[] = [];
  for (let i = 1; i <= count; i++) {
    const at = (a: string) => xpath(xml, `string((//nodes/node)[${i}]/@${a})`);
    nodes.push({
      name: at('name'),
      online: at('online') === 'true',
      pending: at('pending') === 'true',
      unclean: at('unclean') === 'true',
      dc: at('is_dc') === 'true',
    });
  }
  return {
    xml,
    dc: xpath(xml, "string(//summary/current_dc[@present='true']/@name)"),
    quorum: xpath(xml, 'string(//summary/current_dc/@with_quorum)') === 'true',
    nodes,
  };
}

/** Polls FN every stepS seconds until it returns a truthy value; throws with WHAT after timeoutS. */
export function waitFor<T>(what: string, timeoutS: number, fn: () => T | undefined | false, stepS = 2): T {
  const end = Date.now() + timeoutS * 1000;
  let last: unknown;
  for (;;) {
    try {
      const v = fn();
      if (v) {
        trace(`waited ${((Date.now() - end) / 1000 + timeoutS).toFixed(1)}s for ${what}`);
        return v;
      }
    } catch (e) {
      last = e;
    }
    if (Date.now() >= end) throw new Error(`timed out after ${timeoutS}s waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    spawnSync('sleep', [String(stepS)]);
  }
}
