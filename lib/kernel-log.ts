/**
 * The kernel's log as `dmesg --json` (util-linux) gives it: each message with the time it was
 * logged, in seconds since boot. DRBD logs every state change there with the moment it happened;
 * nothing else keeps those moments.
 */
import { readFileSync } from 'node:fs';
import { type Runner, describe } from './run';

export interface KernelMessage {
  /** Seconds since boot. */
  readonly time: number;
  readonly msg: string;
}

/** The messages of `dmesg --json`, oldest first. */
export function parseDmesgJson(text: string): KernelMessage[] {
  const o = JSON.parse(text) as { dmesg?: Array<{ time?: unknown; msg?: unknown }> };
  return (o.dmesg ?? []).filter((r) => typeof r.msg === 'string' && r.msg !== '').map((r) => ({ time: Number(r.time ?? 0), msg: r.msg as string }));
}

/** The kernel's messages; the ring buffer may have lost old ones, never the last minutes'. */
export async function kernelMessages(run: Runner): Promise<KernelMessage[]> {
  const r = await run(['dmesg', '--json'], { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`dmesg --json: ${describe(r)}`);
  return parseDmesgJson(r.stdout);
}

/** The wall-clock moment of a kernel timestamp, from the time since boot now (/proc/uptime). */
export function kernelTimeToDate(time: number, now = new Date(), uptime = readUptime()): Date | undefined {
  if (uptime === undefined) return undefined;
  return new Date(now.getTime() - (uptime - time) * 1000);
}

function readUptime(): number | undefined {
  try {
    const v = Number(readFileSync('/proc/uptime', 'utf8').split(/\s+/)[0]);
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}
