/** iputils arping: duplicate-address probes and gratuitous ARP, argv builders and output reading. */

/** One DAD probe (sender 0.0.0.0). arping exits at the first reply; its -w is whole seconds, so callers bound it tighter. */
export function dadArgv(nic: string, address: string): string[] {
  return ['arping', '-D', '-c', '1', '-w', '1', '-I', nic, address];
}

/**
 * Gratuitous ARP: `request` style (-U, an ARP request for our own address) and `reply` style
 * (-A): some switches and firewalls only learn from one of the two. The interval is whole seconds.
 */
export function announceArgv(style: 'request' | 'reply', nic: string, address: string, count: number, intervalMs: number): string[] {
  const seconds = Math.max(1, Math.ceil(intervalMs / 1000));
  return ['arping', style === 'request' ? '-U' : '-A', '-c', String(count), '-i', String(seconds), '-I', nic, address];
}

export interface DadAnswer {
  readonly address: string;
  readonly mac: string;
}

/** The first "Unicast reply from A [MAC]" line of arping's report, if any host answered. */
export function parseDadReply(stdout: string): DadAnswer | undefined {
  const m = /reply from\s+(\S+)\s+\[([0-9A-Fa-f:]{11,17})\]/.exec(stdout);
  return m ? { address: m[1]!, mac: m[2]!.toLowerCase() } : undefined;
}
