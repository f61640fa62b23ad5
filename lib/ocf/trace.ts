import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { commandLine, type RunResult } from '../run';
import { parseBoolean } from './params';

export const DEFAULT_TRACE_DIR = '/var/lib/heartbeat/trace_ra';

function fileStamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}.${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/**
 * Where OCF_TRACE_RA=1 (or the trace_ra=1 parameter pcs accepts for every agent) sends the trace:
 * OCF_TRACE_FILE (a path or a descriptor 3–9), else trace_dir/<agent>/<instance>.<action>.<time>,
 * the shell library's layout.
 */
export function traceFileFromEnv(env: NodeJS.ProcessEnv, agent: string, instance: string, action: string): string | undefined {
  const on = parseBoolean(env.OCF_TRACE_RA ?? '') === true || parseBoolean(env.OCF_RESKEY_trace_ra ?? '') === true;
  if (!on) return undefined;
  const file = env.OCF_TRACE_FILE || env.OCF_RESKEY_trace_file;
  if (file && /^[3-9]$/.test(file)) return `/dev/fd/${file}`;
  if (file && file.startsWith('/')) return file;
  const dir = env.OCF_RESKEY_trace_dir || DEFAULT_TRACE_DIR;
  return `${dir}/${agent}/${instance.replace(/[^\w.:-]/g, '_')}.${action}.${fileStamp(new Date())}`;
}

function indent(label: string, text: string): string {
  if (!text) return '';
  return `  ${label}:\n${text.replace(/\n$/, '').split('\n').map((l) => `    ${l}`).join('\n')}\n`;
}

/** Records every command an action runs: argv, exit, duration, output. Written as it goes. */
export class Trace {
  private broken = false;

  constructor(readonly file: string) {}

  begin(header: string, env: NodeJS.ProcessEnv): void {
    const vars = Object.keys(env)
      .filter((k) => k.startsWith('OCF_') || k.startsWith('HA_'))
      .sort()
      .map((k) => `  ${k}=${JSON.stringify(env[k])}`)
      .join('\n');
    try {
      if (!this.file.startsWith('/dev/fd/')) mkdirSync(dirname(this.file), { recursive: true });
    } catch {
      // appending below reports it
    }
    this.write(`# ${new Date().toISOString()} ${header}\n${vars}\n`);
  }

  command(r: RunResult): void {
    const end = r.spawnError
      ? `not started (${r.spawnError})`
      : r.abandoned
        ? 'abandoned after SIGKILL'
        : r.signal
          ? `killed by ${r.signal}${r.timedOut ? ' (timeout)' : ''}`
          : `exit ${r.code}`;
    this.write(`+ ${commandLine(r.argv)}\n  -> ${end} in ${r.durationMs.toFixed(1)} ms\n${indent('stdout', r.stdout)}${indent('stderr', r.stderr)}`);
  }

  note(line: string): void {
    this.write(`# ${line}\n`);
  }

  private write(s: string): void {
    if (this.broken) return;
    try {
      appendFileSync(this.file, s);
    } catch {
      this.broken = true;
    }
  }
}
