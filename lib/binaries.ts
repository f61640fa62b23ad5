import { accessSync, constants } from 'node:fs';

/** Directories searched after $PATH: Pacemaker may start agents with a short PATH. */
export const SYSTEM_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export function searchPath(envPath: string | undefined): string[] {
  const dirs = (envPath ?? '').split(':').filter((d) => d.startsWith('/'));
  for (const d of SYSTEM_DIRS) if (!dirs.includes(d)) dirs.push(d);
  return dirs;
}

/** Full path of an executable, or undefined. An absolute name is only checked. */
export function which(name: string, envPath = process.env.PATH): string | undefined {
  const candidates = name.includes('/') ? [name] : searchPath(envPath).map((d) => `${d}/${name}`);
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Like the shell library's have_binary: ocf-tester sets OCF_TESTER_FAIL_HAVE_BINARY=1 to check
 * that a probe copes with missing tools, so every binary counts as missing then.
 */
export function haveBinary(name: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OCF_TESTER_FAIL_HAVE_BINARY === '1') return false;
  return which(name, env.PATH) !== undefined;
}
