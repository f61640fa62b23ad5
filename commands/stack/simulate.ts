/**
 * What Pacemaker would do with a stack when something breaks, computed offline with
 * crm_simulate: bring both nodes up, inject the promotion scores the DRBD agent would set
 * (crm_simulate runs no agents), then fail a node, a resource or the link. The transition graph
 * (-G, XML) gives the actions and their order; crm_mon's XML on the resulting CIB gives where
 * everything ended up.
 */
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CRM_MON_XML, type Placement, parseCrmMon } from '../../lib/cluster';
import { type Runner, describe } from '../../lib/run';
import { type XmlElement, findAll, parseXml } from '../../lib/xml';
import { type Stack, ids } from './model';

export interface Action {
  readonly id: string;
  readonly op: string;
  readonly resource?: string;
  readonly node?: string;
  readonly after: readonly string[];
}

/** Actions of a transition graph with the ids of the actions each waits for. */
export function parseGraph(xml: string): Action[] {
  const doc = parseXml(xml);
  const out: Action[] = [];
  for (const syn of findAll(doc, 'synapse')) {
    const set = syn.children.find((c) => c.name === 'action_set');
    const inputs = syn.children.find((c) => c.name === 'inputs');
    const after = inputs ? findAll(inputs, 'trigger').flatMap((t) => t.children.map((c) => c.attrs.id ?? '')) : [];
    for (const a of set?.children ?? []) {
      const prim = a.children.find((c) => c.name === 'primitive');
      out.push({ id: a.attrs.id ?? '', op: a.name === 'crm_event' ? (a.attrs.operation ?? '') : (a.attrs.operation ?? ''), resource: prim?.attrs.id, node: a.attrs.on_node, after });
    }
  }
  return out;
}

/** Whether `later` (transitively) waits for `earlier` in the graph. */
export function waitsFor(graph: readonly Action[], later: Action, earlier: Action): boolean {
  const byId = new Map(graph.map((a) => [a.id, a]));
  const seen = new Set<string>();
  const stack = [...later.after];
  while (stack.length) {
    const id = stack.pop()!;
    if (id === earlier.id) return true;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...(byId.get(id)?.after ?? []));
  }
  return false;
}

const TOLD = new Set(['start', 'stop', 'promote', 'demote', 'stonith']);

/** The transition as sentences, in an order that respects the graph. */
export function sentences(graph: readonly Action[]): string[] {
  const shown = graph.filter((a) => TOLD.has(a.op) && (a.resource || a.op === 'stonith'));
  const done = new Set<string>();
  const out: string[] = [];
  let guard = 0;
  while (done.size < shown.length && guard++ < 1000) {
    for (const a of shown) {
      if (done.has(a.id)) continue;
      if (shown.some((b) => !done.has(b.id) && b !== a && waitsFor(graph, a, b))) continue;
      done.add(a.id);
      out.push(a.op === 'stonith' ? `fence ${a.node}` : `${a.op} ${a.resource} on ${a.node}`);
    }
  }
  return out;
}

export type { Placement };
export { parseCrmMon };

export interface Scenario {
  readonly name: string;
  readonly args: (stack: Stack) => string[];
  /** The node that should end up running everything. */
  readonly survivor: (stack: Stack) => string;
  /** Without fencing this scenario means two nodes serving: a failure by itself. */
  readonly needsFencing?: boolean;
}

export const SCENARIOS: readonly Scenario[] = [
  { name: 'node failure', args: (s) => ['--node-fail', s.nodes[0]!], survivor: (s) => s.nodes[1]! },
  {
    name: 'filesystem failure',
    args: (s) => s.services.map((v) => `--op-inject=${ids(v).fs}_monitor_20000@${s.nodes[0]}=1`).flatMap((o) => [o]),
    survivor: (s) => s.nodes[0]!,
  },
  { name: 'replication link loss', args: (s) => ['--node-fail', s.nodes[0]!], survivor: (s) => s.nodes[1]!, needsFencing: true },
];

export interface Outcome {
  readonly scenario: string;
  readonly ok: boolean;
  readonly story: string[];
  readonly problems: string[];
}

async function must(run: Runner, argv: string[], env?: NodeJS.ProcessEnv) {
  const r = await run(argv, { timeoutMs: 60_000, env });
  if (r.code !== 0) throw new Error(describe(r));
  return r;
}

/** The resources placed with the promoted DRBD, in start order. */
function stackOf(s: Stack['services'][number], id: ReturnType<typeof ids>): string[] {
  return [...(s.nfs ? [id.fs, id.export, id.ip] : [id.fs]), ...(s.application ? [id.app] : [])];
}

/** Start orders the plan sets, each after the DRBD promotion: the NFS chain, and the application after the mount. */
function startChains(s: Stack['services'][number], id: ReturnType<typeof ids>): string[][] {
  return [s.nfs ? [id.fs, id.export, id.ip] : [id.fs], ...(s.application ? [[id.fs, id.app]] : [])];
}

/** Checks the end state: every service promoted/started on `survivor`, the stack in order in the graph. */
export function judge(stack: Stack, survivor: string, placements: readonly Placement[], graph: readonly Action[]): string[] {
  const problems: string[] = [];
  const where = (rsc: string) => placements.filter((p) => p.resource === rsc || p.resource.startsWith(`${rsc}:`));
  for (const s of stack.services) {
    const id = ids(s);
    const promoted = where(id.drbd).filter((p) => p.role === 'Promoted' || p.role === 'Master');
    if (promoted.length !== 1 || promoted[0]!.nodes[0] !== survivor) {
      problems.push(`${id.drbd} is promoted on ${promoted.map((p) => p.nodes.join(',')).join(' and ') || 'no node'}, not on ${survivor}`);
    }
    for (const r of stackOf(s, id)) {
      const p = where(r).filter((x) => x.role === 'Started');
      if (p.length !== 1 || p[0]!.nodes.length !== 1 || p[0]!.nodes[0] !== survivor) problems.push(`${r} runs on ${p.flatMap((x) => x.nodes).join(' and ') || 'no node'}, not on ${survivor}`);
    }
    // In the graph, each start waits for the one before it.
    const act = (rsc: string, op: string) => graph.find((a) => a.resource === rsc && a.op === op && a.node === survivor);
    for (const starts of startChains(s, id)) {
      const chain = [act(id.drbd, 'promote'), ...starts.map((r) => act(r, 'start'))];
      for (let i = 1; i < chain.length; i++) {
        const [a, b] = [chain[i - 1], chain[i]];
        if (a && b && !waitsFor(graph, b, a)) problems.push(`${b.op} ${b.resource} does not wait for ${a.op} ${a.resource}`);
      }
    }
  }
  return problems;
}

interface Prepared {
  readonly dir: string;
  readonly steady: string;
  readonly steadyGraph: string;
  readonly state: (file: string) => Promise<Placement[]>;
}

/**
 * The stack's nodes up, with the promotion scores the DRBD agent would set (the first node
 * preferred), settled into a steady state.
 */
async function prepare(run: Runner, stack: Stack, cib: string, scores: { preferred: number; other: number }): Promise<Prepared> {
  const dir = mkdtempSync(join(tmpdir(), 'ocfkit-sim-'));
  const base = join(dir, 'base.xml');
  copyFileSync(cib, base);
  const env = (file: string) => ({ CIB_file: file });
  // crm_simulate needs the nodes in the CIB; pcs -f does not add them.
  for (const [i, n] of stack.nodes.entries()) {
    await run(['cibadmin', '-C', '-o', 'nodes', '-X', `<node id="${i + 1}" uname="${n}"/>`], { timeoutMs: 10_000, env: env(base) });
  }
  const up = join(dir, 'up.xml');
  await must(run, ['crm_simulate', '-x', base, '-S', '--quorum=true', ...stack.nodes.flatMap((n) => ['--node-up', n]), '-O', up]);
  for (const s of stack.services) {
    const attr = `master-${ids(s).drbd}`;
    for (const [i, n] of stack.nodes.entries()) {
      await must(run, ['crm_attribute', '-N', n, '-l', 'reboot', '-n', attr, '-v', String(i === 0 ? scores.preferred : scores.other)], env(up));
    }
  }
  const steady = join(dir, 'steady.xml');
  const steadyGraph = join(dir, 'steady-graph.xml');
  await must(run, ['crm_simulate', '-x', up, '-S', '-O', steady, '-G', steadyGraph]);
  const state = async (file: string) => parseCrmMon((await must(run, [...CRM_MON_XML], env(file))).stdout);
  return { dir, steady, steadyGraph, state };
}

/** Runs every scenario against `cib` (a CIB file holding the stack). */
export async function simulate(run: Runner, stack: Stack, cib: string, scores = { preferred: 10000, other: 1000 }): Promise<Outcome[]> {
  if (stack.site) return simulateSite(run, stack, cib, scores);
  const { dir, steady, steadyGraph, state } = await prepare(run, stack, cib, scores);
  const outcomes: Outcome[] = [];
  const g0 = parseGraph(readFileSync(steadyGraph, 'utf8'));
  const initialProblems = judge(stack, stack.nodes[0]!, await state(steady), g0);
  outcomes.push({ scenario: 'start', ok: initialProblems.length === 0, story: sentences(g0), problems: initialProblems });
  for (const sc of SCENARIOS) {
    const out = join(dir, `${sc.name.replace(/\W+/g, '-')}.xml`);
    const g = join(dir, `${sc.name.replace(/\W+/g, '-')}-graph.xml`);
    await must(run, ['crm_simulate', '-x', steady, '-S', ...sc.args(stack), '-O', out, '-G', g]);
    const graph = parseGraph(readFileSync(g, 'utf8'));
    const problems = judge(stack, sc.survivor(stack), await state(out), graph);
    if (sc.needsFencing && !stack.fencing) {
      problems.push(`without fencing, ${stack.nodes[0]} keeps serving on its side of the cut link while ${stack.nodes[1]} takes over: split brain`);
    }
    outcomes.push({ scenario: sc.name, ok: problems.length === 0, story: sentences(graph), problems });
  }
  return outcomes;
}

/** Problems when anything of a service is promoted or started (the site does not hold its ticket). */
export function judgeIdle(stack: Stack, placements: readonly Placement[]): string[] {
  const problems: string[] = [];
  const where = (rsc: string) => placements.filter((p) => p.resource === rsc || p.resource.startsWith(`${rsc}:`));
  for (const s of stack.services) {
    const id = ids(s);
    const promoted = where(id.drbd).filter((p) => p.role === 'Promoted' || p.role === 'Master');
    if (promoted.length) problems.push(`${id.drbd} is promoted on ${promoted.flatMap((p) => p.nodes).join(', ')} without ticket ${s.ticket}`);
    for (const r of stackOf(s, id)) {
      const on = where(r).filter((x) => x.role === 'Started').flatMap((x) => x.nodes);
      if (on.length) problems.push(`${r} runs on ${on.join(', ')} without ticket ${s.ticket}`);
    }
  }
  return problems;
}

/**
 * One site: without its tickets nothing is promoted (DRBD runs Unpromoted, as the other site's
 * sync target); granting them promotes and starts each stack in order; revoking demotes again.
 */
export async function simulateSite(run: Runner, stack: Stack, cib: string, scores = { preferred: 10000, other: 1000 }): Promise<Outcome[]> {
  const { dir, steady, steadyGraph, state } = await prepare(run, stack, cib, scores);
  const tickets = stack.services.map((s) => s.ticket);
  const outcomes: Outcome[] = [];
  const g0 = parseGraph(readFileSync(steadyGraph, 'utf8'));
  const steadyState = await state(steady);
  const idle = judgeIdle(stack, steadyState);
  const roles = steadyState.filter((p) => stack.services.some((s) => p.resource.startsWith(`${ids(s).drbd}:`) || p.resource === ids(s).drbd) && p.nodes.length);
  const story = [...sentences(g0), ...roles.map((p) => `${p.resource.replace(/:\d+$/, '')} ${p.role} on ${p.nodes.join(', ')}`)];
  outcomes.push({ scenario: `start without ${tickets.join(', ')}`, ok: idle.length === 0, story, problems: idle });
  const granted = join(dir, 'granted.xml');
  const gg = join(dir, 'granted-graph.xml');
  await must(run, ['crm_simulate', '-x', steady, '-S', ...tickets.flatMap((t) => ['--ticket-grant', t]), '-O', granted, '-G', gg]);
  const grantGraph = parseGraph(readFileSync(gg, 'utf8'));
  const grantProblems = judge(stack, stack.nodes[0]!, await state(granted), grantGraph);
  outcomes.push({ scenario: `${tickets.join(', ')} granted to site ${stack.site!.name}`, ok: grantProblems.length === 0, story: sentences(grantGraph), problems: grantProblems });
  const revoked = join(dir, 'revoked.xml');
  const rg = join(dir, 'revoked-graph.xml');
  await must(run, ['crm_simulate', '-x', granted, '-S', ...tickets.flatMap((t) => ['--ticket-revoke', t]), '-O', revoked, '-G', rg]);
  const revokeGraph = parseGraph(readFileSync(rg, 'utf8'));
  const revokeProblems = judgeIdle(stack, await state(revoked));
  // Stops run in the reverse order of the starts, the demote last.
  for (const s of stack.services) {
    const id = ids(s);
    const act = (rsc: string, op: string) => revokeGraph.find((a) => a.resource === rsc && a.op === op);
    for (const starts of startChains(s, id)) {
      const chain = [...[...starts].reverse().map((r) => act(r, 'stop')), act(id.drbd, 'demote')];
      for (let i = 1; i < chain.length; i++) {
        const [a, b] = [chain[i - 1], chain[i]];
        if (!b) revokeProblems.push(`revoking ${s.ticket} does not ${i === chain.length - 1 ? `demote ${id.drbd}` : 'stop the stack'}`);
        else if (a && !waitsFor(revokeGraph, b, a)) revokeProblems.push(`${b.op} ${b.resource} does not wait for ${a.op} ${a.resource}`);
      }
      if (!chain[0]) revokeProblems.push(`revoking ${s.ticket} does not stop ${starts[starts.length - 1]}`);
    }
  }
  outcomes.push({ scenario: `${tickets.join(', ')} revoked`, ok: revokeProblems.length === 0, story: sentences(revokeGraph), problems: revokeProblems });
  return outcomes;
}

export function renderOutcomes(outcomes: readonly Outcome[]): string {
  const lines: string[] = [];
  for (const o of outcomes) {
    lines.push(`${o.ok ? 'OK  ' : 'FAIL'} ${o.scenario}`);
    for (const s of o.story) lines.push(`       ${s}`);
    for (const p of o.problems) lines.push(`     ! ${p}`);
  }
  return `${lines.join('\n')}\n`;
}

export type { XmlElement };
