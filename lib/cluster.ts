/**
 * Pacemaker's command-line tools for what agents ask of the cluster: promotion scores (the
 * crm_attribute call crm_master makes) and where a resource is promoted (crm_mon); and the crm_mon
 * readings the commands share (placements, the fencer's history). Machine output (--output-as=xml)
 * wherever every Pacemaker from 2.0 to 3.0 has it, otherwise the interface they all share, and a
 * time limit on every call: a CIB that does not answer must not hang a monitor.
 */
import { type RunResult, type Runner, describe } from './run';
import { type XmlElement, XmlError, find, findAll, parseXml } from './xml';

/** Each call to the CIB gets at most this long (less if the action has less left). */
export const CIB_CALL_MS = 10_000;

/**
 * The cluster as crm_mon shows it, one shot, as XML, with stopped resources, without the fencing
 * history. That history makes crm_mon connect to pacemaker-fenced and wait for its answer, and the
 * fencer is slowest when the cluster is busy (it re-reads the CIB on every change, it runs the fence
 * agents): a reading of where resources run must not wait on it.
 */
export const CRM_MON_XML: readonly string[] = ['crm_mon', '-1', '--output-as=xml', '--inactive', '--fence-history=0'];

export class ClusterError extends Error {
  constructor(
    message: string,
    readonly result?: RunResult,
  ) {
    super(message);
  }
}

export interface PacemakerResult {
  readonly code: number;
  readonly message: string;
  readonly errors: string[];
  readonly doc?: XmlElement;
}

/** The <status code message> of a --output-as=xml answer, with its errors. */
export function parseResult(xml: string): PacemakerResult {
  let doc: XmlElement;
  try {
    doc = parseXml(xml);
  } catch (e) {
    throw new ClusterError(`not Pacemaker XML: ${(e as XmlError).message}`);
  }
  const status = find(doc, 'status');
  return {
    code: Number(status?.attrs.code ?? -1),
    message: status?.attrs.message ?? '',
    errors: findAll(doc, 'error').map((e) => e.text.trim()),
    doc,
  };
}

/** TOOL's answer with a non-zero <status>, as an error: its message and its <error>s. */
function failed(tool: string, r: PacemakerResult): ClusterError {
  return new ClusterError(`${tool}: ${r.message}${r.errors.length ? `: ${r.errors.join('; ')}` : ''}`);
}

export interface Placement {
  readonly resource: string;
  /** Started, Promoted, Unpromoted; Pacemaker 2.0 says Master and Slave. */
  readonly role: string;
  readonly nodes: string[];
  /** crm_mon's failed="true": placed there, but not doing its work until Pacemaker recovers it. */
  readonly failed?: boolean;
  /** crm_mon's managed="false" (is-managed=false, maintenance): Pacemaker neither starts nor stops it. */
  readonly unmanaged?: boolean;
}

/** Resources and where they run, from `crm_mon --output-as=xml` (the cluster or a CIB file). */
export function parseCrmMon(xml: string): Placement[] {
  const doc = parseXml(xml);
  const out: Placement[] = [];
  for (const r of findAll(doc, 'resource')) {
    out.push({ resource: r.attrs.id ?? '', role: r.attrs.role ?? '', nodes: r.children.filter((c) => c.name === 'node').map((n) => n.attrs.name ?? ''), ...(r.attrs.failed === 'true' ? { failed: true } : {}), ...(r.attrs.managed === 'false' ? { unmanaged: true } : {}) });
  }
  return out;
}

/** A failed action crm_mon reports (its <failures>): what failed, where, and the agent's reason. */
export interface FailedAction {
  /** RESOURCE_OPERATION_INTERVAL, as Pacemaker names the operation. */
  readonly opKey: string;
  readonly node: string;
  /** The agent's exit reason, else the exit status in Pacemaker's words. */
  readonly reason: string;
  readonly exitCode: string;
}

export function parseFailures(xml: string | XmlElement): FailedAction[] {
  const doc = typeof xml === 'string' ? parseXml(xml) : xml;
  return findAll(doc, 'failure').map((f) => ({ opKey: f.attrs.op_key ?? '', node: f.attrs.node ?? '', reason: f.attrs.exitreason || f.attrs.exitstatus || '', exitCode: f.attrs.exitcode ?? '' }));
}

/** The promoted role under either name: Promoted (Pacemaker ≥ 2.1), Master (2.0). */
export function isPromotedRole(role: string): boolean {
  return role === 'Promoted' || role === 'Master';
}

/**
 * The fencing actions that failed or are under way, alone, from crm_mon (the fencer's history at
 * crm_mon's default level): a reading of its own, with its own time limit, because the fencer may
 * be the part that does not answer.
 */
export const CRM_MON_FENCING: readonly string[] = ['crm_mon', '-1', '--output-as=xml', '--exclude=all', '--include=fencing'];

export interface FenceEvent {
  readonly action: string;
  readonly target: string;
  readonly status: string;
  /** Who asked (a node's controller, stonith_admin.PID ...) and on which node. */
  readonly client: string;
  readonly origin: string;
  /** The node whose device acted; absent while none has. */
  readonly delegate?: string;
  readonly completed?: string;
  readonly reason?: string;
}

/** The <fence_event>s of crm_mon's XML, newest first as crm_mon lists them. */
export function parseFenceHistory(xml: string): FenceEvent[] {
  const r = parseResult(xml);
  if (r.code !== 0) throw failed('crm_mon', r);
  return findAll(r.doc!, 'fence_event').map(({ attrs: a }) => ({
    action: a.action ?? '',
    target: a.target ?? '',
    status: a.status ?? '',
    client: a.client ?? '',
    origin: a.origin ?? '',
    ...(a.delegate ? { delegate: a.delegate } : {}),
    ...(a.completed ? { completed: a.completed } : {}),
    ...(a['exit-reason'] ? { reason: a['exit-reason'] } : {}),
  }));
}

export interface PromotionTool {
  /** argv to set, query (the value alone on stdout) and delete a promotion score. */
  set(score: number): string[];
  get(): string[];
  del(): string[];
}

/**
 * The promotion score of resource INSTANCE (OCF_RESOURCE_INSTANCE), on NODE or, without one, this
 * node: what crm_master runs (`crm_attribute -n master-<instance> -l reboot`), which every
 * Pacemaker from 2.0 to 3.0 takes. `crm_attribute --promotion` (2.1 on) and its XML answer are not
 * in 2.0, and crm_master is deprecated from 2.1 on.
 */
export function promotionScoreCalls(instance: string | undefined, node?: string): PromotionTool {
  if (!instance) throw new ClusterError('no resource instance (OCF_RESOURCE_INSTANCE) to keep a promotion score for');
  const base = ['crm_attribute', ...(node ? ['-N', node] : []), '-n', `master-${instance}`, '-l', 'reboot'];
  return {
    set: (score) => [...base, '-v', String(score)],
    get: () => [...base, '-G', '-q'],
    del: () => [...base, '-D'],
  };
}

/** crm_attribute -G's exit code when the attribute is not set (CRM_EX_NOSUCH). */
const NO_SUCH_OBJECT = 105;

export class PromotionScores {
  constructor(
    private readonly run: Runner,
    private readonly tool: PromotionTool,
  ) {}

  async set(score: number): Promise<void> {
    const r = await this.run(this.tool.set(score), { timeoutMs: CIB_CALL_MS });
    if (r.code !== 0) throw new ClusterError(`setting the promotion score to ${score} failed: ${describe(r)}`, r);
  }

  async remove(): Promise<void> {
    const r = await this.run(this.tool.del(), { timeoutMs: CIB_CALL_MS });
    if (r.code !== 0) throw new ClusterError(`removing the promotion score failed: ${describe(r)}`, r);
  }

  async get(): Promise<number | undefined> {
    const r = await this.run(this.tool.get(), { timeoutMs: CIB_CALL_MS });
    if (r.code === NO_SUCH_OBJECT) return undefined;
    if (r.code !== 0) throw new ClusterError(`reading the promotion score failed: ${describe(r)}`, r);
    const text = r.stdout.trim();
    if (text === '') return undefined;
    if (/^-?INFINITY$/i.test(text)) return text.startsWith('-') ? -1_000_000 : 1_000_000;
    const n = Number(text);
    return Number.isFinite(n) ? n : undefined;
  }
}

/**
 * The nodes where `resource` (a primitive, a clone's instances, or the clone) is promoted, from
 * crm_mon's XML, which every Pacemaker from 2.0 on writes (`crm_resource --locate` has no XML in
 * 2.0); undefined when the cluster cannot say. That includes an answer with errors and status 0
 * (crm_mon 2.1 and later, when it could not connect to the CIB) and one that does not list the
 * resource at all (2.0 reads an unreadable CIB file as an empty one).
 */
export async function promotedOn(run: Runner, resource: string): Promise<string[] | undefined> {
  const r = await run([...CRM_MON_XML], { timeoutMs: CIB_CALL_MS });
  if (r.code !== 0) return undefined;
  try {
    const result = parseResult(r.stdout);
    if (result.code !== 0 || result.errors.length > 0) return undefined;
    const mine = parseCrmMon(r.stdout).filter((p) => p.resource === resource || p.resource.startsWith(`${resource}:`));
    if (mine.length === 0) return undefined;
    return mine.filter((p) => isPromotedRole(p.role)).flatMap((p) => p.nodes);
  } catch {
    return undefined;
  }
}

/** Pacemaker's version from `crm_attribute --version` ("Pacemaker 2.0.5"), as [major, minor]. */
export function parsePacemakerVersion(text: string): [number, number] | undefined {
  const m = /Pacemaker (\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** Whether crm_resource writes XML (`--output-as`): Pacemaker 2.1 and later. */
export async function crmResourceHasXml(run: Runner): Promise<boolean> {
  const r = await run(['crm_resource', '--version'], { timeoutMs: CIB_CALL_MS });
  const v = parsePacemakerVersion(r.stdout);
  return v !== undefined && (v[0] > 2 || (v[0] === 2 && v[1] >= 1));
}
