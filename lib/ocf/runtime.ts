import { haveBinary } from '../binaries';
import { type RunResult, commandsUnderWay, run, signalAllCommands } from '../run';
import type { ActionResult, AnyAgent, Ctx } from './agent';
import { OCF, OcfError, codeName } from './codes';
import { Deadline } from './deadline';
import { Logger, logSettingsFromEnv } from './log';
import { type ActionMeta, ocfApiFor, renderMetadata } from './metadata';
import { describeProblems, parseParams } from './params';
import { Trace, traceFileFromEnv } from './trace';

export const BUILTIN_ACTIONS = ['meta-data', 'validate-all'] as const;

export function actionList(agent: AnyAgent): Array<readonly [string, ActionMeta]> {
  const out: Array<readonly [string, ActionMeta]> = [];
  for (const [name, spec] of Object.entries(agent.actions)) for (const m of spec.meta) out.push([name, m]);
  out.push(['meta-data', { timeout: agent.metaDataTimeout ?? 5 }]);
  out.push(['validate-all', { timeout: agent.validateTimeout ?? 20 }]);
  return out;
}

export function metadataFor(agent: AnyAgent, env: NodeJS.ProcessEnv): string {
  return renderMetadata({ ...agent, actions: actionList(agent) }, ocfApiFor(env));
}

export function usage(agent: AnyAgent): string {
  const names = [...Object.keys(agent.actions), ...BUILTIN_ACTIONS];
  return `usage: ${agent.name} {${names.join('|')}}\n`;
}

/** OCF_CHECK_LEVEL, or the OCF_RESKEY_ form a monitor op's instance attribute arrives in. */
export function requestedCheckLevel(env: NodeJS.ProcessEnv): number {
  const raw = (env.OCF_CHECK_LEVEL ?? env.OCF_RESKEY_OCF_CHECK_LEVEL ?? '0').trim();
  return /^\d{1,6}$/.test(raw) ? Number(raw) : 0;
}

/** The requested level lowered to the deepest declared depth, as the OCF spec asks. */
export function checkLevel(env: NodeJS.ProcessEnv, depths: readonly number[]): number {
  const want = requestedCheckLevel(env);
  let best = 0;
  for (const d of depths) if (d <= want && d > best) best = d;
  return best;
}

function intervalOf(env: NodeJS.ProcessEnv): number {
  const v = Number(env.OCF_RESKEY_CRM_meta_interval ?? '0');
  return Number.isFinite(v) && v > 0 ? v : 0;
}

/** The operation timeout in ms: Pacemaker's, else the action's own meta-data timeout. */
export function timeoutOf(env: NodeJS.ProcessEnv, fallbackSeconds: number): number {
  const v = Number(env.OCF_RESKEY_CRM_meta_timeout ?? '');
  return Number.isFinite(v) && v > 0 ? v : fallbackSeconds * 1000;
}

export interface Outcome {
  readonly code: number;
  readonly reason?: string;
}

export interface Io {
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
  readonly isTty?: () => boolean;
}

const processIo: Io = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  isTty: () => process.stderr.isTTY === true,
};

function exitReasonLine(env: NodeJS.ProcessEnv, reason: string): string {
  const prefix = env.OCF_EXIT_REASON_PREFIX || 'ocf-exit-reason:';
  return `${prefix}${reason.replace(/\s*\n\s*/g, ' ')}\n`;
}

/**
 * Codes that answer the action rather than report its failure: 0, 7 (stopped), and 8 from a
 * monitor (running promoted). A reason with them describes the state; the agent logs it itself.
 */
function answersQuestion(action: string, code: number): boolean {
  return code === OCF.SUCCESS || code === OCF.NOT_RUNNING || (action === 'monitor' && code === OCF.RUNNING_PROMOTED);
}

/** What an action out of time was waiting for: the command still running names it better than "the action". */
function waitingFor(commands: readonly string[]): string {
  if (commands.length === 0) return 'waiting for the action to finish';
  const more = commands.length > 1 ? ` (and ${commands.length - 1} more command${commands.length > 2 ? 's' : ''})` : '';
  return `waiting for ${commands[0]} to finish${more}`;
}

/** A code an OCF caller can read: 0–9; anything else (a crash, a signal) becomes 1. */
function clamp(code: number): number {
  return Number.isInteger(code) && code >= 0 && code <= 9 ? code : OCF.ERR_GENERIC;
}

/**
 * Runs one OCF action of an agent and returns the exit code. The exit reason, when there is one,
 * has been written to stderr with the OCF_EXIT_REASON_PREFIX. Never throws.
 */
export async function runAgent(agent: AnyAgent, args: readonly string[], env: NodeJS.ProcessEnv = process.env, io: Io = processIo): Promise<number> {
  const action = args[0];
  if (action === undefined || action === '') {
    io.stderr(usage(agent));
    return OCF.ERR_ARGS;
  }
  if (action === 'meta-data') {
    io.stdout(metadataFor(agent, env));
    return OCF.SUCCESS;
  }
  if (action === 'usage' || action === 'help' || action === '--help') {
    io.stdout(usage(agent));
    return OCF.SUCCESS;
  }
  const spec = agent.actions[action];
  if (!spec && action !== 'validate-all') {
    io.stderr(exitReasonLine(env, `${agent.name} does not implement the ${action} action`));
    io.stderr(usage(agent));
    return OCF.ERR_UNIMPLEMENTED;
  }

  const instance = env.OCF_RESOURCE_INSTANCE || agent.name;
  const log = new Logger({ ...logSettingsFromEnv(`${agent.name}(${instance})`, action, env, io.isTty?.() ?? false), write: io.stderr });
  const declared = spec?.meta[0]?.timeout ?? agent.validateTimeout ?? 20;
  const timeoutMs = timeoutOf(env, declared);
  // In the agent's own process, performance.now() is the time since the exec.
  const deadline = Deadline.fromTimeout(timeoutMs, action, io === processIo ? performance.now() : 0);
  const traceFile = traceFileFromEnv(env, agent.name, instance, action);
  const trace = traceFile ? new Trace(traceFile) : undefined;
  trace?.begin(`${agent.name} ${action} (${instance}) timeout ${timeoutMs} ms`, env);

  const parsed = parseParams(agent.params, env);
  const intervalMs = intervalOf(env);
  const depths = (agent.actions.monitor?.meta ?? []).map((m) => m.depth ?? 0);
  const ctx: Ctx<typeof agent.params> = {
    agent: agent.name,
    action,
    instance,
    params: parsed.values,
    isSet: (n) => parsed.set.has(n),
    env,
    probe: action === 'monitor' && intervalMs === 0,
    intervalMs,
    checkLevel: checkLevel(env, depths),
    api: ocfApiFor(env),
    deadline,
    log,
    run: (argv, opts) => run(argv, { ...opts, deadline, onResult: (r: RunResult) => trace?.command(r) }),
    haveBinary: (name) => haveBinary(name, env),
  };

  const body = async (): Promise<ActionResult> => {
    if (parsed.problems.length > 0) {
      const why = describeProblems(parsed.problems);
      if (action === 'stop') {
        if (agent.stopWhenInvalid) return agent.stopWhenInvalid(ctx, parsed.problems);
        log.warn(`stop with invalid parameters (${why}): nothing this configuration could have started; reporting stopped`);
        return OCF.SUCCESS;
      }
      throw new OcfError(OCF.ERR_CONFIGURED, why);
    }
    try {
      await agent.validate?.(ctx);
    } catch (e) {
      if (action === 'stop' && e instanceof OcfError && e.code === OCF.ERR_CONFIGURED) {
        if (agent.stopWhenInvalid) return agent.stopWhenInvalid(ctx, [{ param: '', message: e.reason }]);
        log.warn(`stop with invalid parameters (${e.reason}): reporting stopped`);
        return OCF.SUCCESS;
      }
      throw e;
    }
    if (action === 'validate-all') {
      if (requestedCheckLevel(env) >= 10) await agent.validateHost?.(ctx);
      return OCF.SUCCESS;
    }
    return spec!.run(ctx);
  };

  let outcome: Outcome;
  let watchdog: NodeJS.Timeout | undefined;
  const stopSignals: NodeJS.Signals[] = io === processIo ? ['SIGTERM', 'SIGINT', 'SIGHUP'] : [];
  let onSignal: ((sig: NodeJS.Signals) => void) | undefined;
  try {
    // Whatever an action waits on, it answers before Pacemaker's own timeout kills it.
    const overtime = new Promise<never>((_, reject) => {
      watchdog = setTimeout(() => reject(deadline.error(waitingFor(commandsUnderWay()))), deadline.remaining() + 100);
    });
    // Told to stop (an operator, a service manager, a caller giving up): the commands under way
    // are stopped with it and the action answers with why, instead of dying silently and leaving
    // them running.
    const stopped = new Promise<never>((_, reject) => {
      onSignal = (sig) => {
        signalAllCommands('SIGTERM');
        reject(new OcfError(OCF.ERR_GENERIC, `${action} was stopped by ${sig} after ${(performance.now() / 1000).toFixed(1)}s`));
      };
      for (const sig of stopSignals) process.once(sig, onSignal);
    });
    const result = await Promise.race([body(), overtime, stopped]);
    outcome = typeof result === 'object' && result !== null ? { code: result.code, reason: result.reason } : { code: result ?? OCF.SUCCESS };
  } catch (e) {
    if (e instanceof OcfError) outcome = { code: e.code, reason: e.reason };
    else {
      const err = e instanceof Error ? e : new Error(String(e));
      log.err(`internal error in ${action}: ${err.stack ?? err.message}`);
      outcome = { code: OCF.ERR_GENERIC, reason: `internal error in ${action}: ${err.message}` };
    }
  } finally {
    if (watchdog) clearTimeout(watchdog);
    if (onSignal) for (const sig of stopSignals) process.removeListener(sig, onSignal);
  }

  const code = clamp(outcome.code);
  if (outcome.reason) {
    // The exit reason is what `pcs status` shows; the log line keeps it with the action and time.
    if (!answersQuestion(action, code)) log.err(`failed (${codeName(code)}): ${outcome.reason}`);
    io.stderr(exitReasonLine(env, outcome.reason));
  }
  trace?.note(`${action} -> ${code} (${codeName(code)})${outcome.reason ? `: ${outcome.reason}` : ''}`);
  await log.flush();
  // What TERM (the command's own timeout or a signal to us) has not ended by now never will by
  // itself: a command must not outlive the action that started it.
  if (signalAllCommands('SIGKILL') > 0) log.warn('a command did not end even on SIGKILL (uninterruptible): left behind');
  return code;
}
