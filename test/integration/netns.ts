/**
 * Test hosts for integration tests: two network namespaces joined by a veth pair. "node" is where
 * the agent runs; "peer" is another host on the same segment. Only TEST-NET addresses are used.
 */
import { type SpawnSyncReturns, execFileSync, spawnSync } from 'node:child_process';

export const AGENT_DIR = '/usr/lib/ocf/resource.d/ocfkit';

/** Integration tests need root and the OCF sandbox that `npm test` (scripts/test.sh) sets up. */
export function requireSandbox(): void {
  if (process.getuid?.() !== 0) throw new Error('integration tests need root (namespaces, addresses, mounts)');
  if (!process.env.OCFKIT_SANDBOX) {
    throw new Error('integration tests run inside the OCF sandbox: use `npm test` or `npm run test:integration` (scripts/test.sh)');
  }
}

export function sh(argv: string[], input?: string): SpawnSyncReturns<string> {
  // A test's own timeout (300 s) ends it first; this only keeps one call from taking all of it.
  return spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', input, timeout: 240_000 });
}

export function ok(argv: string[]): string {
  return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 60_000 });
}

export interface AgentResult {
  code: number | null;
  stdout: string;
  stderr: string;
  reason?: string;
  ms: number;
}

export interface AgentCall {
  /** Run inside this network namespace. */
  readonly netns?: string;
  /** OCF_RESOURCE_INSTANCE; the agent's name plus "-test" by default. */
  readonly instance?: string;
}

/**
 * Runs an installed agent action with only the environment Pacemaker's executor would give it
 * (env -i: no NODE_EXTRA_CA_CERTS or anything else from the test runner).
 */
export function runAgent(agent: string, action: string, params: Record<string, string>, env: Record<string, string> = {}, call: AgentCall = {}): AgentResult {
  const vars = [
    'PATH=/usr/sbin:/usr/bin:/sbin:/bin',
    'OCF_ROOT=/usr/lib/ocf',
    `OCF_RESOURCE_INSTANCE=${call.instance ?? `${agent}-test`}`,
    'OCF_RESKEY_CRM_meta_timeout=20000',
    ...Object.entries(params).map(([k, v]) => `OCF_RESKEY_${k}=${v}`),
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
  ];
  const t0 = performance.now();
  const r = sh([...(call.netns ? ['ip', 'netns', 'exec', call.netns] : []), 'env', '-i', ...vars, `${AGENT_DIR}/${agent}`, action]);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, reason: /^ocf-exit-reason:(.*)$/m.exec(r.stderr)?.[1], ms: performance.now() - t0 };
}

export class Segment {
  readonly node: string;
  readonly peer: string;
  static count = 0;

  constructor(tag: string) {
    Segment.count++;
    this.node = `ok-${tag}-n${process.pid % 10000}-${Segment.count}`;
    this.peer = `ok-${tag}-p${process.pid % 10000}-${Segment.count}`;
    this.destroy();
    for (const ns of [this.node, this.peer]) {
      ok(['ip', 'netns', 'add', ns]);
      ok(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    }
    ok(['ip', 'link', 'add', 'v0', 'netns', this.node, 'type', 'veth', 'peer', 'name', 'v1', 'netns', this.peer]);
    ok(['ip', '-n', this.node, 'addr', 'add', '192.0.2.1/24', 'dev', 'v0']);
    ok(['ip', '-n', this.peer, 'addr', 'add', '192.0.2.2/24', 'dev', 'v1']);
    this.link('peer', true);
    this.link('node', true);
    this.settle();
  }

  link(side: 'node' | 'peer', up: boolean): void {
    const [ns, dev] = side === 'node' ? [this.node, 'v0'] : [this.peer, 'v1'];
    ok(['ip', '-n', ns, 'link', 'set', dev, up ? 'up' : 'down']);
    // Taking a link down drops its IPv6 addresses (keep_addr_on_down=0): put the static one back.
    if (up) ok(['ip', '-n', ns, 'addr', 'replace', side === 'node' ? 'fd00:2::1/64' : 'fd00:2::2/64', 'dev', dev, 'nodad']);
  }

  /**
   * Waits until both ends pass traffic: carrier, and IPv6 link-local DAD done. Right after a carrier
   * flap the kernel's single DAD probe can be lost, and an IPv6 duplicate then goes unnoticed.
   */
  settle(): void {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const ready = [
        [this.node, 'v0'],
        [this.peer, 'v1'],
      ].every(([ns, dev]) => {
        const [l] = JSON.parse(ok(['ip', '-n', ns!, '-j', 'addr', 'show', 'dev', dev!])) as Array<{ flags: string[]; addr_info: Array<{ tentative?: boolean; scope: string }> }>;
        return l!.flags.includes('LOWER_UP') && l!.addr_info.some((a) => a.scope === 'link') && !l!.addr_info.some((a) => a.tentative);
      });
      if (ready) return;
      if (Date.now() > deadline) throw new Error(`segment ${this.node} did not settle within 10 s`);
      spawnSync('sleep', ['0.1']);
    }
  }

  /** Every address of the node, as `dev addr/len` lines: a snapshot to compare before and after. */
  addresses(ns = this.node): string[] {
    const links = JSON.parse(ok(['ip', '-n', ns, '-j', 'addr', 'show'])) as Array<{ ifname: string; addr_info: Array<{ local: string; prefixlen: number }> }>;
    return links.flatMap((l) => l.addr_info.map((a) => `${l.ifname} ${a.local}/${a.prefixlen}`)).sort();
  }

  has(address: string, ns = this.node): boolean {
    return this.addresses(ns).some((l) => l.split(' ')[1]!.startsWith(`${address}/`));
  }

  /** Runs an agent action inside the node. */
  agent(agent: string, action: string, params: Record<string, string>, env: Record<string, string> = {}): AgentResult {
    return runAgent(agent, action, params, env, { netns: this.node });
  }

  destroy(): void {
    for (const ns of [this.node, this.peer]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  }
}
