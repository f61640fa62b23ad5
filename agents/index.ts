import type { AnyAgent } from '../lib/ocf/agent';

/**
 * Every agent the executable carries, by the name it is installed (and called) under. Loaded on
 * first use: a start evaluates only the agent it runs (3 % of `nfs-export meta-data`'s
 * instructions, which count fifty-fold in a TCG guest).
 */
const LOADERS: Readonly<Record<string, () => Promise<AnyAgent>>> = {
  vip: async () => (await import('./vip')).vip,
  'fs-mount': async () => (await import('./fs-mount')).fsMount,
  'drbd-promote': async () => (await import('./drbd-promote')).drbdPromote,
  'nfs-export': async () => (await import('./nfs-export')).nfsExport,
};

export const AGENT_NAMES: readonly string[] = Object.keys(LOADERS);

export function agentNamed(name: string): Promise<AnyAgent> | undefined {
  return Object.hasOwn(LOADERS, name) ? LOADERS[name]!() : undefined;
}

/** All of them, loaded: for the tests and the man pages. */
export async function allAgents(): Promise<Readonly<Record<string, AnyAgent>>> {
  return Object.fromEntries(await Promise.all(AGENT_NAMES.map(async (n) => [n, await agentNamed(n)!] as const)));
}
