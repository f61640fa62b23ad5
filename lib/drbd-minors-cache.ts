/**
 * A resource's minors as `drbdadm sh-minor` last read them, kept in the run directory with a
 * fingerprint of every configuration file drbdadm read for them. On DRBD 8.4 every monitor needs
 * the minors (/proc/drbd names minors, not resources), and sh-minor parses the whole configuration
 * in one or two processes: 0.25–0.5 s of a 2 s monitor in a slow guest. The kept answer is used
 * only while every file is unchanged (inode, size, mtime and ctime to the nanosecond, the
 * directories of the include globs too, so an added file counts) on the same host name, which
 * chooses the `on HOST` sections; anything the fingerprint cannot follow means no cache.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { removeNote, writeNote } from './background';

/** drbd.conf's include statements may nest; a deeper or wider tree is not followed. */
const MAX_DEPTH = 8;
const MAX_FILES = 512;
const GLOB = /[*?[]/;

function stamp(path: string): string {
  const s = statSync(path, { bigint: true });
  return `${path}\0${s.ino}\0${s.size}\0${s.mtimeNs}\0${s.ctimeNs}`;
}

/** The include targets of one file's text: `include "glob";` or `include glob;`, outside comments. */
export function includes(text: string): string[] {
  const out: string[] = [];
  const bare = text.replace(/#[^\n]*/g, '');
  for (const m of bare.matchAll(/(?:^|[\s;{}])include\s+(?:"([^"]*)"|([^\s;"]+))\s*;/g)) out.push(m[1] ?? m[2]!);
  return out;
}

function globRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        re += `[${pattern.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * The fingerprint of `conf` and everything it includes, or undefined when it cannot be taken
 * (a file missing or unreadable, a glob in a directory part, too many files).
 */
export function configFingerprint(conf: string): string | undefined {
  const parts = [`host\0${hostname()}`];
  const seen = new Set<string>();
  const visit = (file: string, depth: number): boolean => {
    if (seen.has(file)) return true;
    if (depth > MAX_DEPTH || seen.size >= MAX_FILES) return false;
    seen.add(file);
    let text: string;
    try {
      parts.push(stamp(file));
      text = readFileSync(file, 'utf8');
    } catch {
      return false;
    }
    for (const target of includes(text)) {
      // drbdadm resolves a relative include against the including file's directory.
      const path = isAbsolute(target) ? target : join(dirname(file), target);
      const dir = dirname(path);
      const base = path.slice(dir.length + 1);
      if (GLOB.test(dir)) return false;
      if (!GLOB.test(base)) {
        if (!visit(path, depth + 1)) return false;
        continue;
      }
      let names: string[];
      try {
        parts.push(stamp(dir));
        names = readdirSync(dir).sort();
      } catch {
        return false;
      }
      const re = globRegExp(base);
      for (const n of names) if (!n.startsWith('.') && re.test(n) && !visit(join(dir, n), depth + 1)) return false;
    }
    return true;
  };
  return visit(conf, 0) ? parts.join('\n') : undefined;
}

interface Kept {
  readonly conf: string;
  readonly fingerprint: string;
  readonly minors: number[];
}

export class MinorsCache {
  constructor(private readonly dir: string) {}

  private file(res: string): string {
    return join(this.dir, `drbd-minors-${res.replace(/[^\w.-]/g, '_')}.json`);
  }

  /** The kept minors of `res` when `fingerprint` (now) is the one they were read under. */
  get(conf: string, res: string, fingerprint: string): number[] | undefined {
    try {
      const kept = JSON.parse(readFileSync(this.file(res), 'utf8')) as Kept;
      if (kept.conf !== conf || kept.fingerprint !== fingerprint || !Array.isArray(kept.minors)) return undefined;
      return kept.minors.every((m) => Number.isInteger(m) && m >= 0) && kept.minors.length > 0 ? kept.minors : undefined;
    } catch {
      return undefined;
    }
  }

  /** Keeps what sh-minor answered; a run directory that cannot be written only costs the next monitor a sh-minor. */
  put(conf: string, res: string, fingerprint: string, minors: number[]): void {
    writeNote(this.file(res), JSON.stringify({ conf, fingerprint, minors } satisfies Kept));
  }

  forget(res: string): void {
    removeNote(this.file(res));
  }
}
