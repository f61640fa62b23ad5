/**
 * arping: duplicate-address probes and gratuitous ARP, argv builders and output reading, for the
 * two arpings a node may have under that name: iputils' (Debian's iputils-arping, RHEL's iputils)
 * and Thomas Habets' (Debian's `arping` package). One argv means different things to them (-D is a
 * duplicate probe in iputils and a display mode in Habets'; -i an interval in one, the interface
 * in the other), so the kind is asked first and every argv is built for it.
 */

export type Arping =
  | {
      readonly kind: 'iputils';
      readonly version: string;
      /** `-i` (the interval) came with s20190324: s20180629 (RHEL 8, Debian 10) refuses it. */
      readonly interval: boolean;
    }
  | { readonly kind: 'habets'; readonly version: string };

export const VERSION_ARGV: readonly string[] = ['arping', '-V'];

/** The arping that `arping -V` describes (its stdout and stderr), or undefined when it is neither. */
export function arpingKind(said: string): Arping | undefined {
  // "arping from iputils 20221126"; before s20190324 "arping utility, iputils-s20180629".
  const i = /^arping (?:from iputils |utility, iputils-)s?(\d{8})\b/m.exec(said);
  if (i) return { kind: 'iputils', version: i[1]!, interval: i[1]! > '20180629' };
  // Habets' -V wants an argument (a VLAN): it answers with its usage, which names it.
  const h = /^ARPing (\d+(?:\.\d+)*), by Thomas Habets/m.exec(said);
  if (h) return { kind: 'habets', version: h[1]! };
  return undefined;
}

export function arpingName(a: Arping): string {
  return a.kind === 'iputils' ? `iputils arping ${a.version}` : `Habets arping ${a.version}`;
}

/** One duplicate-address probe (sender 0.0.0.0). Its -w is whole seconds, so callers bound it tighter. */
/**
 * How long to let the probe run: iputils is stopped at the window (its own -w counts whole
 * seconds); Habets' ends itself after its -w 1, and what it printed before a SIGTERM may be lost
 * in its buffer, so it gets that second and a second to start.
 */
export function dadWindowMs(a: Arping, windowMs: number): number {
  return a.kind === 'habets' ? Math.max(windowMs, 1000) + 1000 : windowMs;
}

export function dadArgv(a: Arping, nic: string, address: string): string[] {
  if (a.kind === 'habets') return ['arping', '-0', '-c', '1', '-w', '1', '-i', nic, address];
  return ['arping', '-D', '-c', '1', '-w', '1', '-I', nic, address];
}

/**
 * Gratuitous ARP: `request` style (an ARP request for our own address) and `reply` style (some
 * switches and firewalls only learn from one of the two). iputils counts the interval in whole
 * seconds, and one without -i sends at its default of 1 s.
 */
export function announceArgv(a: Arping, style: 'request' | 'reply', nic: string, address: string, count: number, intervalMs: number): string[] {
  if (a.kind === 'habets') {
    // Without -S the sender is the interface's primary address: no neighbour would learn ours.
    return ['arping', '-U', ...(style === 'reply' ? ['-P'] : []), '-S', address, '-c', String(count), '-W', String(intervalMs / 1000), '-i', nic, address];
  }
  const interval = a.interval ? ['-i', String(Math.max(1, Math.ceil(intervalMs / 1000)))] : [];
  return ['arping', style === 'request' ? '-U' : '-A', '-c', String(count), ...interval, '-I', nic, address];
}

export interface DadAnswer {
  readonly address: string;
  readonly mac: string;
}

/**
 * The first host that answered, if any: iputils says "Unicast reply from A [MAC]", Habets'
 * "42 bytes from MAC (A): index=0".
 */
export function parseDadReply(stdout: string): DadAnswer | undefined {
  const i = /reply from\s+(\S+)\s+\[([0-9A-Fa-f:]{11,17})\]/.exec(stdout);
  if (i) return { address: i[1]!, mac: i[2]!.toLowerCase() };
  const h = /bytes from\s+([0-9A-Fa-f:]{11,17})\s+\((\S+)\)/.exec(stdout);
  return h ? { address: h[2]!, mac: h[1]!.toLowerCase() } : undefined;
}

/** iputils' summary: it says so once it has sent a probe (also when SIGTERM ends it). */
export function saidSent(stdout: string): boolean {
  return /^Sent [1-9]\d* probes?\b/m.test(stdout);
}

export type DadVerdict = { readonly taken: DadAnswer } | { readonly free: true } | { readonly failed: string };

/**
 * What a probe's end says. Free only when the tool says it sent the probe and heard nothing: a
 * usage error, an unreadable answer, or a window that closed before the tool said it had sent
 * (a loaded node can take longer than arp_dad_timeout just to start arping) is a failed probe,
 * never a free address. iputils prints its "Sent N probes" summary when it is stopped by SIGTERM.
 */
export function dadVerdict(a: Arping, r: { readonly code: number | null; readonly stdout: string; readonly timedOut: boolean }): DadVerdict {
  const answer = parseDadReply(r.stdout);
  if (answer) return { taken: answer };
  if (r.timedOut) {
    return saidSent(r.stdout) ? { free: true } : { failed: 'the window closed before arping said it had sent the probe' };
  }
  if (a.kind === 'iputils') {
    // In -D mode iputils exits 1 when a host answered, 0 when none did, 2 on an error.
    if (r.code === 0 && /^Sent 1 probes?\b/m.test(r.stdout)) return { free: true };
    if (r.code === 1) return { failed: 'a host answered, but its reply could not be read' };
  } else if (r.code === 1 && /^1 packets transmitted, 0 packets received/m.test(r.stdout)) {
    return { free: true };
  }
  return { failed: 'arping did not say it sent the probe' };
}

/**
 * An announcement that ended at once: did it fail? iputils exits 0 once it has sent its count;
 * Habets' exits 1 when nobody answered, which is every gratuitous ARP, and writes errors only to
 * stderr.
 */
export function announceFailed(a: Arping, code: number | null, stderr: string): boolean {
  if (code === null || stderr.trim() !== '') return true;
  return a.kind === 'iputils' ? code !== 0 : code > 1;
}
