/**
 * The plan for the pcs a cluster runs. The plan is written in pcs 0.11 syntax (RHEL 9, Debian 12,
 * Ubuntu 24.04: Pacemaker 2.1 role names); pcs 0.10 (RHEL 8) takes the older names, which 0.11
 * still accepts with a deprecation warning, and which the Pacemaker 2.0 of RHEL 8.0–8.4 needs.
 * pcs 0.9 (RHEL/CentOS 7: `pcs resource master`) is not a target: it has no `promotable`.
 */
import { type Runner, describe } from '../../lib/run';
import type { Step } from './plan';

export const PCS_VERSIONS = ['0.10', '0.11'] as const;
export type PcsVersion = (typeof PCS_VERSIONS)[number];

/** "0.10", "0.10.18", "pcs 0.11.5" …; 0.12 and later take 0.11's syntax. */
export function pcsVersionOf(text: string): PcsVersion {
  const m = /(\d+)\.(\d+)(?:\.\d+)*/.exec(text);
  if (!m) throw new Error(`${JSON.stringify(text.trim())} is not a pcs version`);
  const [major, minor] = [Number(m[1]), Number(m[2])];
  if (major === 0 && minor === 10) return '0.10';
  if (major > 0 || minor >= 11) return '0.11';
  throw new Error(`pcs ${m[0]} is older than 0.10 (it has no promotable clones: pcs resource master); use pcs 0.10 or later`);
}

/** The pcs on this machine, when there is one (run on a cluster node). */
export async function detectPcsVersion(run: Runner): Promise<PcsVersion | undefined> {
  const r = await run(['pcs', '--version'], { timeoutMs: 60_000 });
  if (r.code === 0) return pcsVersionOf(r.stdout);
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

function for010(argv: readonly string[]): string[] {
  const out = argv.map((w) => {
    const [key, ...rest] = w.split('=');
    if (OLDER_WORDS[w]) return OLDER_WORDS[w]!;
    if (rest.length > 0 && OLDER_WORDS[key!]) return `${OLDER_WORDS[key!]}=${rest.join('=')}`;
    return w;
  });
  // colocation roles: `with Promoted X` is `with master X` in 0.10.
  if (out[1] === 'constraint' && out[2] === 'colocation') return out.map((w) => (w === 'Promoted' ? 'master' : w === 'Unpromoted' ? 'slave' : w));
  // `resource defaults update` arrived within 0.10; `resource defaults name=value` works in all of it.
  if (out[1] === 'resource' && out[2] === 'defaults' && out[3] === 'update') return [...out.slice(0, 3), ...out.slice(4)];
  return out;
}

export function forPcs(steps: readonly Step[], version: PcsVersion): Step[] {
  if (version === '0.11') return [...steps];
  return steps.map((s) => ({ ...s, argv: for010(s.argv) }));
}
