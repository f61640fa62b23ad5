/**
 * The demo (`npm run demo`, through scripts/demo.sh; docs/lab.md#the-demo): the whole HA NFS stack in
 * the qemu lab, failing over under a writing client. The lab comes up (two cluster guests and a
 * client), DRBD r0 gets a filesystem, the `ocfkit stack` plan is pushed in one change, the client
 * writes numbered, fsynced records over NFSv4.2 and NFSv3 through the floating address; then a
 * graceful move and a killed primary, each shown as `pcs status` before and after, the transitions
 * the cluster computed (told as `ocfkit stack simulate` tells them) and the client's longest
 * pause; at the end every acknowledged record is looked for on the disk, and the lab goes down.
 *
 * The stack test (test/lab/stack.test.ts) runs runDemo() for its own bring-up and these two
 * failovers, and checks what it reports against the lab.
 *
 *   bun scripts/lab/demo.ts [--plain] [--json FILE] [--keep]
 */
import { writeFileSync } from 'node:fs';
import { type Node, drbdSynced, lab, labShOk } from './host';
import {
  type Counts,
  type Transition,
  ackCounts,
  applyStack,
  gapsBetween,
  lockHeldOn,
  lostRecords,
  markTransitions,
  NODES,
  other,
  pcsStatus,
  prepareDrbd,
  progress,
  round1,
  stackOn,
  startClient,
  stopWriters,
  transitionsSince,
  unpromoted,
  VIP,
  watch,
  writersClean,
  writersProgress,
} from './stack';

export type FailoverKind = 'graceful move' | 'primary killed';

export interface Failover {
  kind: FailoverKind;
  from: Node;
  to: Node;
  pcsBefore: string;
  pcsAfter: string;
  transitions: Transition[];
  /** each writer's acknowledged records when the failure began */
  countsBefore: Counts;
  /** each writer's acknowledged records when the pause was measured */
  countsAfter: Counts;
  /** each writer's longest pause in between (s) */
  pause: { v4: number; v3: number };
  /** from the failure until crm_mon showed the whole stack running on TO (s) */
  stackBackS: number;
}

export interface DemoResult {
  ok: boolean;
  /** the step that failed */
  failedAt?: string;
  error?: string;
  steps: Array<{ step: string; atS: number; seconds: number; ok: boolean }>;
  failovers: Failover[];
  /** where the stack ran when the records were looked for, and what was found */
  records?: { server: Node; acked: number; lost: number; perWriter: Record<string, { acked: number; lost: number[] }> };
  totalS: number;
  /** everything printed, line by line */
  lines: string[];
}

export interface DemoOptions {
  /** bring the lab up first (the stack test's hooks already did) */
  up?: boolean;
  /** stop the writers, count the records and take the lab down at the end (the stack test carries on) */
  finish?: boolean;
  /** a live line while waiting (a terminal) */
  live?: boolean;
  write?: (text: string) => void;
  /** called by the stack test around each failover, for its own checks */
  hooks?: {
    before?: (kind: FailoverKind, from: Node) => void;
    /** the stack runs on TO; for the graceful move, FROM is still in standby */
    moved?: (kind: FailoverKind, from: Node, to: Node) => void;
  };
}

const fmtS = (ms: number) => `${(ms / 1000).toFixed(0).padStart(4)}s`;

export function runDemo(opts: DemoOptions = {}): DemoResult {
  const write = opts.write ?? ((t: string) => process.stdout.write(t));
  const t0 = Date.now();
  const res: DemoResult = { ok: false, steps: [], failovers: [], totalS: 0, lines: [] };
  let liveShown = false;
  const clearLive = () => {
    if (liveShown) write('\r\x1b[K');
    liveShown = false;
  };
  const say = (line = '') => {
    clearLive();
    for (const l of line.split('\n')) res.lines.push(l);
    write(`${line}\n`);
  };
  let writing = false;
  let rate: { n: number; at: number; perS?: number } | undefined;
  if (opts.live) {
    progress.onPoll = (what, since) => {
      if (writing) {
        const n = Number(labShOk('client', "cat /tmp/w4.ack /tmp/w3.ack | grep -c '^[0-9]' || :", [], 30).trim());
        const at = Date.now();
        if (rate && at > rate.at) rate = { n, at, perS: ((n - rate.n) * 1000) / (at - rate.at) };
        else rate = { n, at };
      }
      const r = writing && rate?.perS !== undefined ? `, client writing ${rate.perS.toFixed(1)} records/s` : '';
      write(`\r\x1b[K  … waiting for ${what}: ${((Date.now() - since) / 1000).toFixed(0)}s${r}`);
      liveShown = true;
    };
  }
  let current = '';
  const step = <T>(what: string, fn: () => T): T => {
    current = what;
    const s0 = Date.now();
    say(`[${fmtS(s0 - t0)}] ${what}`);
    const v = fn();
    const seconds = round1((Date.now() - s0) / 1000);
    res.steps.push({ step: what, atS: round1((s0 - t0) / 1000), seconds, ok: true });
    say(`[${fmtS(Date.now() - t0)}] done in ${seconds}s: ${what}`);
    return v;
  };
  const show = (title: string, text: string) => {
    say(`  ${title}`);
    say(text.replace(/\n+$/, '').split('\n').map((l) => `    ${l}`).join('\n'));
  };
  const tell = (f: Failover) => {
    const event = f.kind === 'graceful move' ? 'the move' : 'the kill';
    show(`pcs status before ${event}:`, f.pcsBefore);
    say(`  what the cluster did (${f.transitions.length} transition${f.transitions.length === 1 ? '' : 's'}, read from the scheduler's saved inputs as \`ocfkit stack simulate\` reads them):`);
    for (const t of f.transitions) say(`    ${t.input}: ${t.actions.join(', ')}`);
    show(`pcs status after ${event}:`, f.pcsAfter);
    say(`  the stack ran on ${f.to} again ${f.stackBackS}s after ${event}; the client's longest pause: NFSv4.2 ${f.pause.v4}s, NFSv3 ${f.pause.v3}s`);
  };

  try {
    if (opts.up !== false) {
      step('bring up the lab: node1 and node2 (Debian 6.1 kernel, DRBD 8.4, kernel nfsd) and a client, qemu TCG', () => {
        lab(['down'], 180);
        const r = lab(['up', '--client'], 900);
        if (r.status !== 0) throw new Error(`lab.sh up exited ${r.status}:\n${r.out}`);
      });
    }
    step('DRBD r0 on both nodes, synced, ext4 on it (fencing resource-and-stonith, crm-fence-peer handlers)', prepareDrbd);
    step('the cluster: corosync and pacemaker on both nodes, the fence device that resets a guest', () => {
      const r = lab(['cluster'], 900);
      if (r.status !== 0) throw new Error(`lab.sh cluster exited ${r.status}:\n${r.out}`);
    });
    let on = step("ocfkit stack apply: the plan (fencing, DRBD clone, fs-mount, nfs-export, vip, in order) against a copy of node1's CIB, pushed in one change", () => {
      const printed = applyStack();
      say(printed.replace(/\n+$/, '').split('\n').map((l) => `    ${l}`).join('\n'));
      return stackOn('node1', undefined, 900);
    });
    step(`the client mounts ${VIP} over NFSv4.2 and NFSv3 and writes numbered records, each fsynced`, () => {
      startClient();
      writing = true;
      writersProgress(20);
      writersClean();
      watch(`the NFSv4 writer's lock on ${on}`, 120, () => lockHeldOn(on));
    });

    /**
     * One failover under the client's writes, from the stack on FROM to TO: pcs status before, the
     * failure (CAUSE), the stack running on TO, the writers on again, the lock back; what it took.
     * MARKED: the nodes whose DC may compute the transitions (a killed node keeps none).
     */
    const failover = (kind: FailoverKind, from: Node, cause: () => void, marked: readonly Node[]): Failover => {
      const to = other(from);
      const tag = kind === 'graceful move' ? 'move' : 'kill';
      const pcsBefore = pcsStatus(to);
      opts.hooks?.before?.(kind, from);
      markTransitions(tag, marked);
      const countsBefore = ackCounts();
      const f0 = Date.now();
      cause();
      stackOn(to, to, 900);
      const stackBackS = round1((Date.now() - f0) / 1000);
      writersProgress(20, 600);
      watch(`the NFSv4 lock reclaimed on ${to}`, 120, () => lockHeldOn(to));
      writersClean();
      const countsAfter = ackCounts();
      const f: Failover = { kind, from, to, pcsBefore, pcsAfter: pcsStatus(to), transitions: transitionsSince(tag, marked), countsBefore, countsAfter, pause: gapsBetween(countsBefore, countsAfter), stackBackS };
      opts.hooks?.moved?.(kind, from, to);
      res.failovers.push(f);
      tell(f);
      return f;
    };

    // The graceful move: standby on the node that serves.
    on = step(`graceful move: ${on} put in standby, the stack moves to ${other(on)}`, () => {
      const from = on;
      const { to } = failover('graceful move', from, () => labShOk(other(from), 'crm_attribute -N "$1" -n standby -v on', [from], 60), NODES);
      // Out of standby, the old node returns as Unpromoted; the stack stays (stickiness).
      labShOk(to, 'crm_attribute -N "$1" -n standby -v off', [from], 60);
      watch(`${from} back as Unpromoted`, 600, () => unpromoted(to).includes(from), 5);
      say(`  ${from} out of standby: back as Unpromoted, the stack stays on ${to}`);
      return to;
    });

    // The killed primary: its qemu ends; the survivor fences it and takes over.
    const killed = step(`killed primary: ${on}'s qemu killed, the cluster fences it and ${other(on)} takes over`, () => {
      const victim = on;
      watch(`${victim}'s DRBD data UpToDate on both sides`, 300, () => drbdSynced(victim));
      const kill = () => {
        const k = lab(['kill', victim], 60);
        if (k.status !== 0) throw new Error(`lab.sh kill ${victim} exited ${k.status}:\n${k.out}`);
      };
      return failover('primary killed', victim, kill, [other(victim)]).to;
    });

    if (opts.finish !== false) {
      step(`the writers stop; every acknowledged record looked for in the files on ${killed}`, () => {
        stopWriters();
        records(killed);
      });
    } else {
      step(`every record acknowledged so far looked for in the files on ${killed}`, () => records(killed));
    }
    res.ok = true;
  } catch (e) {
    res.failedAt = current;
    res.error = e instanceof Error ? e.message : String(e);
    res.steps.push({ step: current, atS: round1((Date.now() - t0) / 1000), seconds: 0, ok: false });
    say(`demo: FAILED at "${current}":\n${res.error}`);
  } finally {
    progress.onPoll = undefined;
    if (opts.finish !== false) {
      current = 'tear down the lab';
      const s0 = Date.now();
      say(`[${fmtS(s0 - t0)}] tear down the lab${res.ok ? '' : " (the guests' logs are kept)"}`);
      const d = lab(res.ok ? ['down'] : ['down', '--show-logs'], 240);
      // lab.sh says where it kept the guests' logs.
      say(d.out.replace(/\n+$/, '').split('\n').filter((l) => res.ok ? /logs kept/.test(l) : true).map((l) => `    ${l}`).join('\n'));
      res.steps.push({ step: 'tear down the lab', atS: round1((s0 - t0) / 1000), seconds: round1((Date.now() - s0) / 1000), ok: d.status === 0 });
      if (d.status !== 0) {
        res.ok = false;
        res.failedAt ??= 'tear down the lab';
        say(`demo: lab.sh down exited ${d.status}`);
      }
    }
    res.totalS = round1((Date.now() - t0) / 1000);
    say(res.ok ? `demo: OK in ${res.totalS}s` : `demo: FAILED after ${res.totalS}s`);
  }
  return res;

  function records(server: Node): void {
    const per = lostRecords(server);
    const acked = Object.values(per).reduce((s, w) => s + w.acked, 0);
    const lost = Object.values(per).reduce((s, w) => s + w.lost.length, 0);
    res.records = { server, acked, lost, perWriter: per };
    say(`  ${acked} acknowledged records, ${lost} lost (NFSv4.2 ${per.w4.acked}, NFSv3 ${per.w3.acked})`);
    if (lost > 0) throw new Error(`${lost} acknowledged records are not on ${server}'s disk: ${JSON.stringify(Object.fromEntries(Object.entries(per).map(([w, v]) => [w, v.lost.slice(0, 20)])))}`);
  }
}

function main(argv: string[]): number {
  let plain = !process.stdout.isTTY;
  let json: string | undefined;
  let keep = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--plain') plain = true;
    else if (a === '--json' && argv[i + 1]) json = argv[++i];
    else if (a === '--keep') keep = true;
    else {
      process.stderr.write('usage: demo [--quick] [--plain] [--json FILE] [--keep]\n');
      return 2;
    }
  }
  const r = runDemo({ live: !plain, finish: !keep });
  if (json) writeFileSync(json, `${JSON.stringify(r, null, 2)}\n`);
  return r.ok ? 0 : 1;
}

if (import.meta.main) process.exit(main(process.argv.slice(2)));
