import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
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

/**
 * Starts argv detached from the agent (its own session, no pipes) so the action can return while
 * it works; returns its pid, or an error text when it could not be started.
 */
export function spawnDetached(argv: readonly string[]): Promise<{ pid?: number; error?: string }> {
  return new Promise((resolve) => {
    const [file, ...args] = argv;
    if (!file) return resolve({ error: 'empty command' });
    const child = spawn(file, args, { detached: true, stdio: 'ignore', env: childEnv() });
    child.once('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    child.once('spawn', () => {
      child.unref();
      resolve({ pid: child.pid });
    });
  });
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
