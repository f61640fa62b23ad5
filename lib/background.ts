import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname } from 'node:path';
import { childEnv } from './run';

/** Volatile state, emptied at boot: the same place the shell agents use (HA_RSCTMP). */
export function stateDir(env: NodeJS.ProcessEnv): string {
  return `${env.HA_RSCTMP || '/run/resource-agents'}/ocfkit`;
}

/**
 * A node-local note under stateDir: bookkeeping that an action may lose (the next action
 * redoes or repeats a little work) but must never fail over. Undefined when absent or unreadable.
 */
export function readNote(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** How long ago the note was written (ms); Infinity when it cannot be told. */
export function noteAgeMs(file: string): number {
  try {
    return Date.now() - statSync(file).mtimeMs;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/**
 * Writes a note (see readNote); false when it could not be written. Whole or not at all: written
 * beside it and renamed over it, so a full directory (ENOSPC halfway) leaves the old note intact.
 */
export function writeNote(file: string, text: string): boolean {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(tmp, text);
    renameSync(tmp, file);
    return true;
  } catch {
    removeNote(tmp);
    return false;
  }
}

/**
 * Removes a note; false when it is still there. Never throws: under Bun, rmSync with `force`
 * throws EROFS on a read-only directory even for a file that is not there (Node does not).
 */
export function removeNote(file: string): boolean {
  try {
    rmSync(file, { force: true });
    return true;
  } catch {
    return !exists(file);
  }
}

function exists(file: string): boolean {
  try {
    statSync(file);
    return true;
  } catch {
    return false;
  }
}

export interface Detached {
  readonly pid?: number;
  /** Why it could not be started. */
  readonly error?: string;
  /** It ended within the watch: its exit code (null when a signal ended it) and what it wrote. */
  readonly ended?: { readonly code: number | null; readonly stdout: string; readonly stderr: string };
}

/**
 * Starts argv detached from the agent (its own session, no pipes) so the action can return while
 * it works. With `watchMs`, waits that long for it to fail at once (a usage error, a missing
 * interface) and says so: its output goes to unlinked temporary files, which it can write to
 * after the agent is gone without dying of SIGPIPE. With `started`, the wait also ends as soon as
 * its output so far says it got going: a fixed window is too short on a loaded node (a command that
 * fails at once took longer than 100 ms to do so beside two labs) and too long on an idle one.
 */
export function spawnDetached(argv: readonly string[], watchMs = 0, started?: (stdout: string) => boolean): Promise<Detached> {
  return new Promise((resolve) => {
    const [file, ...args] = argv;
    if (!file) return resolve({ error: 'empty command' });
    const out = watchMs > 0 ? anonymousFile() : undefined;
    const err = watchMs > 0 ? anonymousFile() : undefined;
    const child = spawn(file, args, { detached: true, stdio: ['ignore', out ?? 'ignore', err ?? 'ignore'], env: childEnv() });
    const done = (r: Detached) => {
      for (const fd of [out, err]) if (fd !== undefined) closeSync(fd);
      resolve(r);
    };
    child.once('error', (e: NodeJS.ErrnoException) => done({ error: e.code ?? e.message }));
    child.once('spawn', () => {
      child.unref();
      if (watchMs <= 0) return done({ pid: child.pid });
      const stop = () => {
        clearTimeout(timer);
        if (poll) clearInterval(poll);
        child.removeAllListeners('exit');
      };
      const timer = setTimeout(() => {
        stop();
        done({ pid: child.pid });
      }, watchMs);
      // Only with a start sign to look for: without one, the window or the exit ends the watch.
      const poll = started
        ? setInterval(() => {
            if (!started(readAll(out))) return;
            stop();
            done({ pid: child.pid });
          }, 10)
        : undefined;
      child.once('exit', (code) => {
        stop();
        done({ pid: child.pid, ended: { code, stdout: readAll(out), stderr: readAll(err) } });
      });
    });
  });
}

/** A file with no name (opened, then unlinked), or undefined where none can be made. */
function anonymousFile(): number | undefined {
  const path = `${tmpdir()}/ocfkit-output-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    const fd = openSync(path, 'wx+', 0o600);
    unlinkSync(path);
    return fd;
  } catch {
    return undefined;
  }
}

function readAll(fd: number | undefined): string {
  if (fd === undefined) return '';
  try {
    const buf = Buffer.alloc(4096);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n).toString('utf8');
  } catch {
    return '';
  }
}

/** Remembers helper processes of an instance, so stop can end them. */
export function recordPids(file: string, pids: readonly number[]): void {
  // Keep only helpers still running: a monitor that refreshes ARP adds two every time.
  const old = readPids(file).filter((pid) => cmdline(pid) !== undefined);
  // Losing the record only means a burst of ARP may outlive stop by a few seconds.
  writeNote(file, `${[...old, ...pids].join('\n')}\n`);
}

function readPids(file: string): number[] {
  return (readNote(file) ?? '')
    .split('\n')
    .map((l) => Number(l))
    .filter((n) => Number.isInteger(n) && n > 1);
}

function cmdline(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}

/**
 * Ends the recorded helpers that are still what we started (`matches` is checked against the
 * live command line, so a recycled pid is never signalled), then forgets them.
 */
export function endRecorded(file: string, matches: (argv: readonly string[]) => boolean): number {
  let ended = 0;
  for (const pid of readPids(file)) {
    const argv = cmdline(pid);
    if (!argv || !matches(argv)) continue;
    try {
      process.kill(pid, 'SIGTERM');
      ended++;
    } catch {
      // gone meanwhile
    }
  }
  removeNote(file);
  return ended;
}
