/**
 * Pacemaker's command-line tools for what agents ask of the cluster: promotion scores
 * (crm_attribute --promotion, falling back to crm_master where --promotion is missing) and where
 * a resource runs (crm_resource --locate); and the crm_mon readings the commands share (placements,
 * the fencer's history). Always --output-as=xml, never the human text, and a time limit on every
 * call: a CIB that does not answer must not hang a monitor.
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
  readonly node: string;
  readonly promoted: boolean;
}

/** Nodes a resource is active on, from `crm_resource --locate --output-as=xml`. */
export function parseLocate(xml: string): Placement[] {
  const r = parseResult(xml);
  if (r.code !== 0) throw failed('crm_resource --locate', r);
  return findAll(r.doc!, 'node').map((n) => ({ node: n.text.trim(), promoted: n.attrs.state === 'promoted' || n.attrs.state === 'master' }));
}

/** The score in a `crm_attribute -G --output-as=xml` answer; undefined when none is set. */
export function parseAttribute(xml: string): string | undefined {
  const r = parseResult(xml);
  if (r.code === 105) return undefined; // No such object: no score set
  if (r.code !== 0) throw failed('crm_attribute', r);
  return find(r.doc!, 'attribute')?.attrs.value;
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
  /** argv to set, query and delete the promotion score of the resource in OCF_RESOURCE_INSTANCE. */
  set(score: number): string[];
  get(): string[];
  del(): string[];
}

export const crmAttribute: PromotionTool = {
  set: (score) => ['crm_attribute', '--promotion', '-v', String(score)],
  get: () => ['crm_attribute', '--promotion', '-G', '--output-as=xml'],
  del: () => ['crm_attribute', '--promotion', '-D'],
};

/** Pacemaker < 2.1 (feature set < 3.10): the deprecated crm_master, with the same meaning. */
export const crmMaster: PromotionTool = {
  set: (score) => ['crm_master', '-l', 'reboot', '-v', String(score)],
  get: () => ['crm_master', '-l', 'reboot', '-G', '-q'],
  del: () => ['crm_master', '-l', 'reboot', '-D'],
};

function featureSetAtLeast(fs: string | undefined, want: [number, number]): boolean {
  const m = /^(\d+)\.(\d+)/.exec(fs ?? '');
  if (!m) return true;
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj > want[0] || (maj === want[0] && min >= want[1]);
}

/** crm_attribute --promotion exists since Pacemaker 2.1 (feature set 3.10). */
export function promotionTool(env: NodeJS.ProcessEnv, have: (bin: string) => boolean): PromotionTool {
  if (!have('crm_master')) return crmAttribute;
  return featureSetAtLeast(env.OCF_RESKEY_crm_feature_set, [3, 10]) ? crmAttribute : crmMaster;
}

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
    const text = this.tool === crmAttribute ? parseAttribute(r.stdout) : r.code === 0 ? r.stdout.trim() : undefined;
    if (text === undefined || text === '') return undefined;
    if (/^-?INFINITY$/i.test(text)) return text.startsWith('-') ? -1_000_000 : 1_000_000;
    const n = Number(text);
    return Number.isFinite(n) ? n : undefined;
  }
}

/** Where `resource` runs and where it is promoted, or undefined when the cluster cannot say. */
export async function locate(run: Runner, resource: string): Promise<Placement[] | undefined> {
  const r = await run(['crm_resource', '--locate', '-r', resource, '--output-as=xml'], { timeoutMs: CIB_CALL_MS });
  try {
    return parseLocate(r.stdout);
  } catch {
    return undefined;
  }
}
