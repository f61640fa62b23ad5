/**
 * What takeover, handover and rejoin share: the ticket commands (Pacemaker's own, or booth's), a
 * bounded wait that prints a line whenever what it watches changes, and each step's time.
 */
import type { Deadline } from '../../lib/ocf/deadline';
import { type Runner, describe } from '../../lib/run';
import { type Service, type Stack, ids } from '../stack/model';
import { whyNotServed } from './decide';
import { boothGrant, boothRevoke } from './booth';
import { ReadingError, type ServiceState, type Sources, boothView, clusterView, serviceState, ticketStates } from './state';

export interface SiteCtx {
  readonly stack: Stack;
  readonly src: Sources;
  readonly deadline: Deadline;
  /** Longest wait for one service's stack to change. */
  readonly waitMs: number;
  readonly say: (line: string) => void;
  /** Seconds since the command began, for each line. */
  readonly clock: () => string;
}

export function clockFrom(start = performance.now()): () => string {
  return () => `${((performance.now() - start) / 1000).toFixed(1).padStart(6)}s`;
}

export async function stateOf(ctx: SiteCtx, s: Service): Promise<ServiceState> {
  const booth = ctx.stack.site?.booth ? await boothView(ctx.src.run) : undefined;
  return serviceState(ctx.src, ctx.stack, s, await ticketStates(ctx.src.run), await clusterView(ctx.src.run), booth);
}

async function must(run: Runner, argv: string[], what: string): Promise<void> {
  const r = await run(argv, { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`${what}: ${describe(r)}`);
}

/**
 * Grants the ticket to this site. By hand, Pacemaker cannot know whether the other site holds it:
 * --force says the operator (or takeover's checks) decided. With booth, booth decides and refuses
 * while the other site still holds an unexpired ticket.
 */
export async function grantHere(ctx: SiteCtx, s: Service): Promise<void> {
  const b = ctx.stack.site?.booth;
  if (b) await must(ctx.src.run, boothGrant(s.ticket, b.sites[ctx.stack.site!.name]!), `booth grant ${s.ticket}`);
  else await must(ctx.src.run, ['crm_ticket', '--ticket', s.ticket, '--grant', '--force'], `granting ${s.ticket}`);
}

export async function revokeHere(ctx: SiteCtx, s: Service): Promise<void> {
  const b = ctx.stack.site?.booth;
  if (b) await must(ctx.src.run, boothRevoke(s.ticket, b.sites[ctx.stack.site!.name]!), `booth revoke ${s.ticket}`);
  else await must(ctx.src.run, ['crm_ticket', '--ticket', s.ticket, '--revoke', '--force'], `revoking ${s.ticket}`);
}

/** "served at site b on node2", and where the application runs: what an operator judges a takeover by. */
export function servedLine(st: ServiceState): string {
  const s = st.service;
  const app = s.application ? st.stackParts.find((p) => p.resource === ids(s).app) : undefined;
  return `${s.name}: served at site ${st.site} on ${st.promotedOn}${app ? `; the application ${s.application!.agent} (${app.resource}) runs there` : ''}`;
}

/**
 * After a wait for the stack ran out: a last reading, and what in it does not run and why (crm_mon's
 * failed actions). A reading that fails says so instead.
 */
export async function whyNotNow(ctx: SiteCtx, s: Service): Promise<string> {
  try {
    const why = whyNotServed(await stateOf(ctx, s));
    return why.length ? why.join('; ') : 'it runs now';
  } catch (e) {
    return `the cluster did not answer (${(e as Error).message})`;
  }
}

/** One line for what a wait watches: roles, disks, the link, the stack's parts. */
export function summary(st: ServiceState): string {
  const d = st.drbd;
  const drbd = d ? `DRBD ${d.role} ${d.devices.map((x) => x.disk).join('/') || '-'}` : 'DRBD not loaded';
  const link = st.link ? `link ${st.link.connection}${st.link.connection === 'Connected' ? `, peer ${st.link.peerRole} ${st.link.peerDevices.map((p) => `${p.peerDisk}${p.replication !== 'Established' ? ` ${p.replication}` : ''}`).join('/')}` : ''}` : 'no link';
  const parts = st.stackParts.map((p) => `${p.resource} ${p.on.length ? `on ${p.on.join(',')}` : 'stopped'}`).join(', ');
  return `ticket ${st.ticket.granted ? 'granted' : 'not granted'}; ${drbd}; ${link}; ${parts}`;
}

/**
 * The pause between two readings of the state. A reading starts crm_mon and cibadmin, which on a
 * slow or loaded node take a second or more of its CPU: the very node whose cluster is busy stopping
 * and starting the stack the wait watches. So the wait spends at most a fifth of its time reading
 * (four times the last reading's length), never less than 2 s between readings, never more than 10 s.
 */
export function pollPauseMs(readMs: number): number {
  return Math.min(10_000, Math.max(2000, 4 * readMs));
}

/**
 * Polls the service until `done` holds (every 2 s, longer where a reading is slow: pollPauseMs),
 * printing a line each time the summary changes; undefined when `waitMs` (or the command's deadline)
 * runs out first. A reading the cluster did not answer is said and read again: the wait is in the
 * middle of a change the cluster is making, and giving up there would leave it half watched.
 */
export async function waitUntil(ctx: SiteCtx, s: Service, what: string, done: (st: ServiceState) => boolean | Promise<boolean>): Promise<ServiceState | undefined> {
  const stopAt = performance.now() + Math.min(ctx.waitMs, ctx.deadline.remaining());
  let last = '';
  for (;;) {
    const readAt = performance.now();
    const st = await stateOf(ctx, s).catch((e: unknown) => {
      if (!(e instanceof ReadingError)) throw e;
      return e;
    });
    const readMs = performance.now() - readAt;
    const line = st instanceof ReadingError ? `no answer, reading again: ${st.message}` : summary(st);
    if (line !== last) ctx.say(`${ctx.clock()} ${s.name}: ${line}`);
    last = line;
    if (!(st instanceof ReadingError) && (await done(st))) return st;
    const left = stopAt - performance.now();
    if (left <= 0) {
      ctx.say(`${ctx.clock()} ${s.name}: gave up waiting for ${what} after ${(ctx.waitMs / 1000).toFixed(0)}s`);
      return undefined;
    }
    await new Promise((r) => setTimeout(r, Math.min(pollPauseMs(readMs), left)));
  }
}
