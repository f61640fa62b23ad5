import type { Runner } from '../run';
import type { OcfCode } from './codes';
import type { Deadline } from './deadline';
import type { Logger } from './log';
import type { ActionMeta, OcfApi } from './metadata';
import type { ParamDecls, ParamProblem, ParamValues } from './params';

/** Everything an action may use; built once per invocation by the runtime. */
export interface Ctx<P extends ParamDecls> {
  readonly agent: string;
  readonly action: string;
  readonly instance: string;
  readonly params: ParamValues<P>;
  /** Whether the value came from the configuration rather than the default. */
  readonly isSet: (name: keyof P & string) => boolean;
  readonly env: NodeJS.ProcessEnv;
  /** monitor with interval 0 (or none): Pacemaker asking "is it running here?", not "is it healthy?" */
  readonly probe: boolean;
  readonly intervalMs: number;
  /** The requested OCF_CHECK_LEVEL, lowered to the deepest level the agent declares. */
  readonly checkLevel: number;
  readonly api: OcfApi;
  readonly deadline: Deadline;
  readonly log: Logger;
  readonly run: Runner;
  readonly haveBinary: (name: string) => boolean;
}

/**
 * `undefined` means success. `{ code, reason }` reports a reason with any code, also a success:
 * a monitor that finds the resource running but degraded says why.
 */
export type ActionResult = OcfCode | { readonly code: OcfCode; readonly reason: string } | undefined | void;

export interface ActionSpec<P extends ParamDecls> {
  /** One or more meta-data lines (monitor may have one per role or depth). */
  readonly meta: readonly ActionMeta[];
  readonly run: (ctx: Ctx<P>) => Promise<ActionResult>;
}

export interface AgentDef<P extends ParamDecls> {
  readonly name: string;
  readonly version: string;
  readonly shortdesc: string;
  readonly longdesc: string;
  readonly params: P;
  readonly actions: Readonly<Record<string, ActionSpec<P>>>;
  /** Checks across parameters (level 0: no look at the host). Throw OcfError(ERR_CONFIGURED). */
  readonly validate?: (ctx: Ctx<P>) => void | Promise<void>;
  /** OCF_CHECK_LEVEL ≥ 10 in validate-all: does this host have what the agent needs? */
  readonly validateHost?: (ctx: Ctx<P>) => Promise<void>;
  /**
   * stop with parameters that do not validate: the OCF rule is that stopping something that
   * is not running succeeds, and a misconfigured resource cannot have been started. Agents that
   * can still find what they might have left behind do it here.
   */
  readonly stopWhenInvalid?: (ctx: Ctx<P>, problems: readonly ParamProblem[]) => Promise<ActionResult>;
  /** For the man page: how an operator creates the resource, each with why. */
  readonly examples?: ReadonlyArray<{ readonly why: string; readonly lines: readonly string[] }>;
  /** Timeouts for the actions the runtime implements itself. */
  readonly metaDataTimeout?: number;
  readonly validateTimeout?: number;
}

export function defineAgent<P extends ParamDecls>(def: AgentDef<P>): AgentDef<P> {
  return def;
}

/** Agents are stored in one registry whatever their parameter shapes. */
// biome-ignore lint: the registry erases parameter types on purpose
export type AnyAgent = AgentDef<any>;
