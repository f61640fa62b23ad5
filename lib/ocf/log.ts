import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { parseBoolean } from './params';

export type Level = 'debug' | 'info' | 'warn' | 'err' | 'crit';

const LABEL: Record<Level, string> = { debug: 'DEBUG', info: 'INFO', warn: 'WARNING', err: 'ERROR', crit: 'CRIT' };
const SYSLOG: Record<Level, string> = { debug: 'debug', info: 'info', warn: 'warning', err: 'err', crit: 'crit' };

export interface LogSettings {
  /** e.g. "vip(web-ip)" */
  readonly tag: string;
  /** The OCF action, named in every line. */
  readonly action?: string;
  readonly pid: number;
  readonly facility?: string;
  readonly logfile?: string;
  readonly debuglog?: string;
  readonly debug: boolean;
  /**
   * Whether lines also go to stderr. As in the shell library's ha_log: only when no syslog
   * facility and no log file is set (or stderr is a terminal). Pacemaker's executor logs an
   * agent's stderr itself, so writing both would log every line twice.
   */
  readonly toStderr: boolean;
  readonly write: (line: string) => void;
}

/** Same sources as the shell library's ha_log: HA_LOGFACILITY, HA_LOGFILE, HA_DEBUGLOG, HA_debug. */
export function logSettingsFromEnv(tag: string, action: string | undefined, env: NodeJS.ProcessEnv, stderrIsTty = false): LogSettings {
  const facility = env.HA_LOGFACILITY && env.HA_LOGFACILITY !== 'none' ? env.HA_LOGFACILITY : undefined;
  const logfile = env.HA_LOGFILE || undefined;
  return {
    tag,
    action,
    pid: process.pid,
    facility,
    logfile,
    debuglog: env.HA_DEBUGLOG || undefined,
    debug: parseBoolean(env.HA_debug ?? '') === true,
    toStderr: stderrIsTty || (!facility && !logfile),
    write: (line) => process.stderr.write(line),
  };
}

function stamp(d = new Date()): string {
  return d.toISOString().replace('T', ' ').replace('Z', '');
}

export class Logger {
  private readonly pending: Promise<void>[] = [];

  constructor(private readonly s: LogSettings) {}

  debug(msg: string): void {
    this.log('debug', msg);
  }
  info(msg: string): void {
    this.log('info', msg);
  }
  warn(msg: string): void {
    this.log('warn', msg);
  }
  err(msg: string): void {
    this.log('err', msg);
  }
  crit(msg: string): void {
    this.log('crit', msg);
  }

  log(level: Level, msg: string): void {
    const text = this.s.action ? `${this.s.action}: ${msg}` : msg;
    const body = `${this.s.tag}[${this.s.pid}]: ${LABEL[level]}: ${text}`;
    if (level === 'debug') {
      if (!this.s.debug) return;
      if (this.s.debuglog) this.append(this.s.debuglog, body);
      else if (this.s.toStderr) this.s.write(`${body}\n`);
      return;
    }
    if (this.s.toStderr) this.s.write(`${body}\n`);
    if (this.s.logfile) this.append(this.s.logfile, body);
    if (this.s.debuglog && this.s.debuglog !== this.s.logfile) this.append(this.s.debuglog, body);
    if (this.s.facility) this.syslog(level, text);
  }

  private append(file: string, body: string): void {
    try {
      appendFileSync(file, `${stamp()} ${body}\n`);
    } catch {
      // A log file we cannot write must not change the action's result.
    }
  }

  private syslog(level: Level, msg: string): void {
    // Node has no syslog client for /dev/log (a datagram unix socket), so logger(1) carries it.
    this.pending.push(
      new Promise((resolve) => {
        try {
          const p = spawn('logger', ['-t', this.s.tag, `--id=${this.s.pid}`, '-p', `${this.s.facility}.${SYSLOG[level]}`, '--', msg], {
            stdio: 'ignore',
          });
          p.on('error', () => resolve());
          p.on('close', () => resolve());
        } catch {
          resolve();
        }
      }),
    );
  }

  /** Waits (bounded) for syslog lines still on their way. */
  async flush(maxMs = 1000): Promise<void> {
    if (this.pending.length === 0) return;
    let t: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.pending), new Promise((r) => (t = setTimeout(r, maxMs)))]);
    if (t) clearTimeout(t);
  }
}
