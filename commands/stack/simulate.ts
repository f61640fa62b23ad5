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

export interface Placement {
  readonly resource: string;
  readonly role: string;
  readonly nodes: string[];
}

/** Resources and where they run, from `crm_mon --output-as=xml` on a CIB file. */
export function parseCrmMon(xml: string): Placement[] {
  const doc = parseXml(xml);
  const out: Placement[] = [];
  for (const r of findAll(doc, 'resource')) {
    out.push({ resource: r.attrs.id ?? '', role: r.attrs.role ?? '', nodes: r.children.filter((c) => c.name === 'node').map((n) => n.attrs.name ?? '') });
  }
  return out;
}

export interface Scenario {
  readonly name: string;
  readonly args: (stack: Stack) => string[];
  /** The node that should end up running everything. */
  readonly survivor: (stack: Stack) => string;
  /** Without fencing this scenario means two nodes serving: a failure by itself. */
  readonly needsFencing?: boolean;
}

export const SCENARIOS: readonly Scenario[] = [
  { name: 'node failure', args: (s) => ['--node-fail', s.nodes[0]], survivor: (s) => s.nodes[1] },
  {
    name: 'filesystem failure',
    args: (s) => s.services.map((v) => `--op-inject=${ids(v).fs}_monitor_20000@${s.nodes[0]}=1`).flatMap((o) => [o]),
    survivor: (s) => s.nodes[0],
  },
  { name: 'replication link loss', args: (s) => ['--node-fail', s.nodes[0]], survivor: (s) => s.nodes[1], needsFencing: true },
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
    for (const r of [id.fs, id.export, id.ip]) {
      const p = where(r).filter((x) => x.role === 'Started');
      if (p.length !== 1 || p[0]!.nodes.length !== 1 || p[0]!.nodes[0] !== survivor) problems.push(`${r} runs on ${p.flatMap((x) => x.nodes).join(' and ') || 'no node'}, not on ${survivor}`);
    }
    // In the graph, each start waits for the one before it.
    const act = (rsc: string, op: string) => graph.find((a) => a.resource === rsc && a.op === op && a.node === survivor);
    const chain = [act(id.drbd, 'promote'), act(id.fs, 'start'), act(id.export, 'start'), act(id.ip, 'start')];
    for (let i = 1; i < chain.length; i++) {
      const [a, b] = [chain[i - 1], chain[i]];
      if (a && b && !waitsFor(graph, b, a)) problems.push(`${b.op} ${b.resource} does not wait for ${a.op} ${a.resource}`);
    }
  }
  return problems;
}

/** Runs every scenario against `cib` (a CIB file holding the stack). */
export async function simulate(run: Runner, stack: Stack, cib: string, scores = { preferred: 10000, other: 1000 }): Promise<Outcome[]> {
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
    await must(run, ['crm_attribute', '-N', stack.nodes[0], '-l', 'reboot', '-n', attr, '-v', String(scores.preferred)], env(up));
    await must(run, ['crm_attribute', '-N', stack.nodes[1], '-l', 'reboot', '-n', attr, '-v', String(scores.other)], env(up));
  }
  const steady = join(dir, 'steady.xml');
  const g0 = join(dir, 'steady-graph.xml');
  await must(run, ['crm_simulate', '-x', up, '-S', '-O', steady, '-G', g0]);
  const outcomes: Outcome[] = [];
  const state = async (file: string) => parseCrmMon((await must(run, ['crm_mon', '-1', '--output-as=xml', '--inactive'], env(file))).stdout);
  const initialProblems = judge(stack, stack.nodes[0], await state(steady), parseGraph(readFileSync(g0, 'utf8')));
  outcomes.push({ scenario: 'start', ok: initialProblems.length === 0, story: sentences(parseGraph(readFileSync(g0, 'utf8'))), problems: initialProblems });
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
