/**
 * `ocfkit stack apply`: makes a CIB file or the live cluster hold the plan, changing only what
 * differs. The plan's pcs steps build the plan's own CIB (pcs -f on an empty one); that is compared
 * with the cluster's configuration (converge.ts) and only the difference goes in, in one change.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CRM_MON_XML, type Placement, parseCrmMon } from '../../lib/cluster';
import { type Runner, describe } from '../../lib/run';
import { type XmlElement, parseXml, renderXml } from '../../lib/xml';
import { type Difference, converge, renderDifference, versionOf } from './converge';
import { type Ownership, allIds, markPlan } from './ownership';
import type { Step } from './plan';

/** Each pcs call starts Python: seconds each, a minute or more on a slow guest. */
const PCS_CALL_MS = 180_000;
/** cibadmin and crm_diff are C: a busy CIB manager is the only wait. */
const CIB_CALL_MS = 60_000;
/**
 * How often a push refused for a CIB that moved since it was read is computed again. Only the
 * reading and the comparison run again (milliseconds), not the plan's pcs steps: a cluster whose
 * status changes every few seconds (resources starting) still gets its push in.
 */
export const PUSH_TRIES = 5;

export interface ApplyOptions {
  /** A CIB file (created when missing); the live cluster when absent. */
  readonly cib?: string;
  /** Show the difference, change nothing. */
  readonly dryRun?: boolean;
  /** Run between the first reading and its push (tests: a racing change). */
  readonly beforeFirstPush?: readonly string[];
  /** Who owns what the plan makes, and which services' objects may go (ownership.ts). */
  readonly ownership?: Omit<Ownership, 'active'>;
  /** How long resources to remove may take to stop (ms). */
  readonly stopWaitMs?: number;
  /**
   * Tests only: a directory where the plan's CIB, and what its pcs steps said, are kept by the steps
   * and the schema, so that a test applying one plan twice (a dry run, then the apply) runs its pcs
   * steps once. Only valid while pcs, the agents and this executable stay the same.
   */
  readonly planCache?: string;
}

/** How long an apply waits, by default, for the resources it removes to stop. */
export const STOP_WAIT_MS = 600_000;

/** The plan's pcs steps against a CIB file (pcs -f), saying what pcs warned under each. */
export async function runSteps(run: Runner, steps: readonly Step[], cib: string, say: (line: string) => void): Promise<void> {
  for (const s of steps) {
    const argv = [s.argv[0]!, '-f', cib, ...s.argv.slice(1)];
    const r = await run(argv, { timeoutMs: PCS_CALL_MS });
    if (r.code !== 0) throw new Error(`${describe(r)}\n(while: ${s.why})`);
    say(`ok   ${s.argv.slice(1, 4).join(' ')} …`);
    // What pcs warns about (a deprecated form, a check it skipped) is for the operator to read.
    for (const line of r.stderr.split('\n').filter((l) => l.trim())) say(`     ${line.trim()}`);
  }
}

async function emptyCib(run: Runner): Promise<string> {
  const r = await run(['cibadmin', '--empty'], { timeoutMs: CIB_CALL_MS });
  if (r.code !== 0) throw new Error(`cibadmin --empty: ${describe(r)}`);
  return r.stdout;
}

/** The cluster's CIB now (cibadmin --query), or the file's (an empty CIB when there is none yet). */
async function readCurrent(run: Runner, cib: string | undefined): Promise<string> {
  if (cib !== undefined) return existsSync(cib) ? readFileSync(cib, 'utf8') : emptyCib(run);
  const r = await run(['cibadmin', '--query'], { timeoutMs: CIB_CALL_MS });
  if (r.code !== 0) throw new Error(`reading the cluster's CIB: ${describe(r)}`);
  return r.stdout;
}

function parseCib(text: string, where: string): XmlElement {
  try {
    const x = parseXml(text);
    if (x.name !== 'cib') throw new Error(`<${x.name}> is not a CIB`);
    return x;
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`);
  }
}

/**
 * The plan's own CIB: its steps through pcs -f on an empty CIB of the cluster's schema. Built once
 * per apply; the comparison with the cluster's is what runs again after a race.
 */
async function planCib(run: Runner, steps: readonly Step[], schema: string | undefined, dir: string, say: (line: string) => void, cache?: string): Promise<XmlElement> {
  const kept = cache === undefined ? undefined : join(cache, `${createHash('sha256').update(JSON.stringify([schema ?? null, steps.map((s) => s.argv)])).digest('hex')}.json`);
  if (kept !== undefined && existsSync(kept)) {
    const { xml, said } = JSON.parse(readFileSync(kept, 'utf8')) as { xml: string; said: string[] };
    for (const l of said) say(l);
    return parseCib(xml, "the plan's CIB");
  }
  const file = join(dir, 'plan.xml');
  const empty = await emptyCib(run);
  // The cluster's schema, so pcs writes what that schema knows (and moves to a newer one where it must).
  writeFileSync(file, schema ? empty.replace(/validate-with="[^"]*"/, `validate-with="${schema}"`) : empty);
  const said: string[] = [];
  await runSteps(run, steps, file, (l) => {
    said.push(l);
    say(l);
  });
  const xml = readFileSync(file, 'utf8');
  if (kept !== undefined) {
    writeFileSync(`${kept}.new`, JSON.stringify({ xml, said }));
    renameSync(`${kept}.new`, kept);
  }
  return parseCib(xml, "the plan's CIB");
}

function sayDifference(d: Difference, where: string, say: (line: string) => void): void {
  for (const l of renderDifference(d)) say(l);
  if (d.changes.length === 0 && d.clashes.length === 0) say(`unchanged: ${where} already holds the plan (${d.same} objects as planned)`);
  else say(`${d.changes.length} to change, ${d.same} as planned`);
}

interface Running {
  /** Ids of resources with an instance running somewhere (clone instances as their primitive, unique ones without :N). */
  readonly active: Set<string>;
  /** Of those, the ones Pacemaker does not manage (is-managed=false, maintenance): it would not stop them. */
  readonly unmanaged: Set<string>;
}

async function running(run: Runner): Promise<Running> {
  const r = await run([...CRM_MON_XML], { timeoutMs: CIB_CALL_MS });
  if (r.code !== 0) throw new Error(`reading where resources run (crm_mon): ${describe(r)}`);
  const placed = parseCrmMon(r.stdout).filter((p) => p.nodes.length > 0);
  const id = (p: Placement) => p.resource.replace(/:\d+$/, '');
  return { active: new Set(placed.map(id)), unmanaged: new Set(placed.filter((p) => p.unmanaged).map(id)) };
}

/** Waits until none of IDS runs anywhere, saying what still runs every 30 s. */
async function waitStopped(run: Runner, ids: readonly string[], parts: (id: string) => string[], ms: number, say: (line: string) => void): Promise<void> {
  const started = Date.now();
  let told = started;
  for (;;) {
    const now = (await running(run)).active;
    const still = ids.filter((id) => parts(id).some((p) => now.has(p)));
    if (still.length === 0) return say(`stopped: ${ids.join(', ')}`);
    const waited = Date.now() - started;
    if (waited >= ms) {
      throw new Error(`${still.join(', ')} did not stop within ${Math.round(ms / 1000)} s: left with target-role=Stopped and not removed; see pcs status (a failed stop is the cluster's to resolve: fencing), then run apply again to remove them`);
    }
    if (Date.now() - told >= 30_000) {
      told = Date.now();
      say(`waiting for ${still.join(', ')} to stop (${Math.round(waited / 1000)} s)`);
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/** A push refused because the CIB moved since it was read (cib_apply_diff's version check). */
const raced = (code: number | null, out: string) => code === 103 || /older than existing configuration|update diff failed|diff_resync/i.test(out);

async function push(run: Runner, dir: string, original: string, target: XmlElement): Promise<{ ok: true } | { ok: false; why: string; raced: boolean }> {
  const [orig, next, patch] = ['original.xml', 'target.xml', 'patch.xml'].map((f) => join(dir, f));
  writeFileSync(orig!, original);
  writeFileSync(next!, `${renderXml(target)}\n`);
  // With the versions (no --no-version): the CIB manager refuses the patch when the CIB is no longer
  // the one it was computed from, instead of applying it over a change it never saw.
  const d = await run(['crm_diff', '--original', orig!, '--new', next!], { timeoutMs: CIB_CALL_MS });
  if (d.code !== 1) throw new Error(`crm_diff: ${d.code === 0 ? 'no difference, though the plan changed something' : describe(d)}`);
  writeFileSync(patch!, d.stdout);
  const p = await run(['cibadmin', '--patch', '--xml-file', patch!], { timeoutMs: CIB_CALL_MS });
  if (p.code === 0) return { ok: true };
  // The CIB manager may still apply a patch whose cibadmin gave up waiting: only another reading can say.
  if (p.timedOut || p.code === null) throw new Error(`pushing the configuration: ${describe(p)}; it may or may not have gone in: run apply again, which changes only what still differs`);
  return { ok: false, why: describe(p), raced: raced(p.code, `${p.stdout}\n${p.stderr}`) };
}

export async function apply(run: Runner, steps: readonly Step[], opts: ApplyOptions, say: (line: string) => void): Promise<void> {
  const where = opts.cib ?? "the cluster's CIB";
  const dir = mkdtempSync(join(tmpdir(), 'ocfkit-stack-'));
  try {
    let text = await readCurrent(run, opts.cib);
    let current = parseCib(text, where);
    const built = await planCib(run, steps, current.attrs['validate-with'], dir, say, opts.planCache);
    const plan = opts.ownership ? markPlan(built, opts.ownership.ownerOf) : built;
    const live = opts.cib === undefined;
    // The ids a top-level resource of the CIB read last is made of (crm_mon names a clone's primitive).
    const partsOf = (id: string): string[] => {
      const top = current.children.find((c) => c.name === 'configuration')?.children.find((c) => c.name === 'resources')?.children.find((c) => c.attrs.id === id);
      return top ? [...allIds(top)] : [id];
    };
    const differenceNow = async (): Promise<Difference> => {
      if (!opts.ownership) return converge(current, plan);
      const now = live ? await running(run) : { active: new Set<string>(), unmanaged: new Set<string>() };
      const d = converge(current, plan, { ...opts.ownership, active: (ids) => ids.some((i) => now.active.has(i)) });
      // Pacemaker does not stop what it does not manage: a wait for it would only time out.
      const held = d.pending.filter((id) => partsOf(id).some((p) => now.unmanaged.has(p)));
      if (held.length > 0) throw new Error(`nothing applied: ${held.join(', ')} would be removed, but runs unmanaged (is-managed=false or maintenance): Pacemaker would not stop it. Manage it again (pcs resource manage), or stop it yourself, then run apply again`);
      return d;
    };
    // A removal that must stop resources first takes two changes: the stop, then the removal.
    for (let round = 1; round <= 3; round++) {
      for (let attempt = 1; ; attempt++) {
        const d = await differenceNow();
        sayDifference(d, where, say);
        if (d.clashes.length > 0) throw new Error(`nothing applied: ${d.clashes.length} id(s) of the plan belong to objects that are not the plan's (above); rename or remove those, or rename the plan's service`);
        if (d.changes.length === 0 && d.pending.length === 0) return say(`nothing applied (CIB version ${versionOf(current)})`);
        if (opts.dryRun) return say(`dry run: nothing applied (${where}, version ${versionOf(current)})${d.pending.length ? `; ${d.pending.join(', ')} would be stopped, then removed with the constraints that name them` : ''}`);
        if (!live) {
          const tmp = `${opts.cib}.ocfkit-new`;
          writeFileSync(tmp, `${renderXml(d.target)}\n`);
          renameSync(tmp, opts.cib!);
          return say(`applied: ${d.changes.length} change(s) written to ${opts.cib} in one change (version ${versionOf(d.target)})`);
        }
        if (d.changes.length > 0) {
          if (round === 1 && attempt === 1 && opts.beforeFirstPush) await run(opts.beforeFirstPush, { timeoutMs: CIB_CALL_MS });
          const p = await push(run, dir, text, d.target);
          if (!p.ok) {
            if (!p.raced) throw new Error(`pushing the configuration, nothing applied: ${p.why}`);
            const was = versionOf(current);
            text = await readCurrent(run, undefined);
            current = parseCib(text, where);
            if (attempt >= PUSH_TRIES) {
              throw new Error(`nothing applied: the cluster's CIB changed between each of ${PUSH_TRIES} readings and its push (last read ${was}, now ${versionOf(current)}); run apply again when the cluster is quieter`);
            }
            say(`the cluster's CIB changed since it was read (${was}, now ${versionOf(current)}): nothing of this push applied; computing the difference again (${attempt + 1} of ${PUSH_TRIES})`);
            continue;
          }
          say(`applied: ${d.changes.length} change(s) pushed to the cluster in one change (version ${versionOf(current)} → ${versionOf(d.target)})`);
        }
        if (d.pending.length === 0) return;
        await waitStopped(run, d.pending, partsOf, opts.stopWaitMs ?? STOP_WAIT_MS, say);
        text = await readCurrent(run, undefined);
        current = parseCib(text, where);
        break;
      }
    }
    throw new Error('the resources to remove were stopped, but kept running again (something else starts them): nothing more removed; see pcs status');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
