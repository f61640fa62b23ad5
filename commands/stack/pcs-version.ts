/**
 * The plan for the pcs a cluster runs. The plan is written in pcs 0.11 syntax (RHEL 9, Debian 12,
 * Ubuntu 24.04: Pacemaker 2.1 role names); pcs 0.10 (RHEL 8, Debian 11, Ubuntu 22.04) takes the
 * older names, which the Pacemaker 2.0 of RHEL 8.0–8.4 and Debian 11 needs; pcs 0.12 (RHEL 10,
 * Debian 13) wants meta attributes after `meta`, scores as `score=`, and `group` for `--group`,
 * each with a deprecation warning otherwise. Each version gets its own words, so that the plan
 * applies without an error or a deprecation warning. pcs 0.9 (RHEL/CentOS 7: `pcs resource
 * master`) is not a target: it has no `promotable`.
 */
import { type Runner, describe } from '../../lib/run';
import type { Step } from './plan';

export const PCS_VERSIONS = ['0.10', '0.11', '0.12'] as const;
export type PcsVersion = (typeof PCS_VERSIONS)[number];

/** A pcs release: its syntax (0.10, 0.11, 0.12 and later) and, when known, its patch level. */
export interface PcsRelease {
  readonly version: PcsVersion;
  readonly patch?: number;
}

/** "0.10", "0.10.18", "pcs 0.11.5", "0.12.0.2" …; 0.13 and later take 0.12's syntax. */
export function pcsReleaseOf(text: string): PcsRelease {
  const m = /(\d+)\.(\d+)(?:\.(\d+))?(?:\.\d+)*/.exec(text);
  if (!m) throw new Error(`${JSON.stringify(text.trim())} is not a pcs version`);
  const [major, minor] = [Number(m[1]), Number(m[2])];
  const patch = m[3] === undefined ? {} : { patch: Number(m[3]) };
  if (major === 0 && minor === 10) return { version: '0.10', ...patch };
  if (major === 0 && minor === 11) return { version: '0.11', ...patch };
  if (major > 0 || minor >= 12) return { version: '0.12', ...patch };
  throw new Error(`pcs ${m[0]} is older than 0.10 (it has no promotable clones: pcs resource master); use pcs 0.10 or later`);
}

export function pcsVersionOf(text: string): PcsVersion {
  return pcsReleaseOf(text).version;
}

/** The pcs on this machine, when there is one (run on a cluster node). */
export async function detectPcsVersion(run: Runner): Promise<PcsRelease | undefined> {
  const r = await run(['pcs', '--version'], { timeoutMs: 60_000 });
  if (r.code === 0) return pcsReleaseOf(r.stdout);
  if (r.spawnError === 'ENOENT') return undefined;
  throw new Error(`pcs --version: ${describe(r)}`);
}

/** pcs 0.11 word → pcs 0.10 word, where the two differ. */
const OLDER_WORDS: Readonly<Record<string, string>> = {
  'role=Promoted': 'role=Master',
  'role=Unpromoted': 'role=Slave',
  'promoted-max': 'master-max',
  'promoted-node-max': 'master-node-max',
};

/** `pcs resource defaults update` arrived in 0.10.7, which deprecated `defaults name=value`. */
const DEFAULTS_UPDATE_SINCE = 7;

function for010(argv: readonly string[], patch: number | undefined): string[] {
  const out = argv.map((w) => {
    const [key, ...rest] = w.split('=');
    if (OLDER_WORDS[w]) return OLDER_WORDS[w]!;
    if (rest.length > 0 && OLDER_WORDS[key!]) return `${OLDER_WORDS[key!]}=${rest.join('=')}`;
    return w;
  });
  // colocation roles: `with Promoted X` is `with master X` in 0.10.
  if (out[1] === 'constraint' && out[2] === 'colocation') return out.map((w) => (w === 'Promoted' ? 'master' : w === 'Unpromoted' ? 'slave' : w));
  // ticket roles are checked against Pacemaker 2.0's role names: Master.
  if (out[1] === 'constraint' && out[2] === 'ticket') return out.map((w) => (w === 'Promoted' ? 'Master' : w === 'Unpromoted' ? 'Slave' : w));
  if (out[1] === 'resource' && out[2] === 'defaults' && out[3] === 'update' && patch !== undefined && patch < DEFAULTS_UPDATE_SINCE) {
    return [...out.slice(0, 3), ...out.slice(4)];
  }
  return out;
}

/**
 * pcs 0.12: `promotable meta …` and `group G` (for `--group G`) are the forms of `--future`, which
 * 0.12 asks for instead of the deprecated ones; a colocation's score is `score=…`.
 */
function for012(argv: readonly string[]): string[] {
  if (argv[1] === 'constraint' && argv[2] === 'colocation' && argv[3] === 'add') {
    const last = argv[argv.length - 1]!;
    if (/^[-+]?(\d+|INFINITY)$/i.test(last)) return [...argv.slice(0, -1), `score=${last}`];
    return [...argv];
  }
  if (argv[1] !== 'resource' || argv[2] !== 'create') return [...argv];
  const out: string[] = [];
  let future = false;
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i]!;
    if (w === '--group') {
      out.push('group');
      future = true;
    } else if (w === 'promotable') {
      out.push(w);
      future = true;
      if (argv[i + 1]?.includes('=')) out.push('meta');
    } else out.push(w);
  }
  return future ? [...out, '--future'] : out;
}

export function forPcs(steps: readonly Step[], version: PcsVersion, patch?: number): Step[] {
  if (version === '0.11') return [...steps];
  if (version === '0.12') return steps.map((s) => ({ ...s, argv: for012(s.argv) }));
  return steps.map((s) => ({ ...s, argv: for010(s.argv, patch) }));
}
