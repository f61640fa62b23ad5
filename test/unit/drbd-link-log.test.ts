/**
 * When the replication link went and the peer's role then, from DRBD's kernel log lines: a real
 * DRBD 9.2 capture (node2's log over every captured state) and DRBD 8.4's from the lab's two-site test.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lastLinkLoss } from '../../lib/drbd-link-log';
import type { KernelMessage } from '../../lib/kernel-log';

/** A captured `dmesg` as `dmesg --json` gives it: the "[   seconds] " prefix is the time. */
function messages(path: string): KernelMessage[] {
  return readFileSync(join(__dirname, '..', 'samples', path), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const m = /^\[\s*([\d.]+)\] (.*)$/.exec(l)!;
      return { time: Number(m[1]), msg: m[2]! };
    });
}
const upTo = (log: KernelMessage[], time: number) => log.filter((m) => m.time <= time);

describe('the last loss of the replication link in the kernel log', () => {
  const node2 = messages('drbd9/capture-node2-dmesg.txt');

  it('DRBD 9: the link cut under a Primary peer: its moment, the role, the state it went to; gone once it reconnects', () => {
    expect(upTo(node2, 782.9).length).toBeGreaterThan(0);
    expect(lastLinkLoss(upTo(node2, 782.9), 'r0', [0], 'node1')).toEqual({ time: 782.81623, peerRole: 'Primary', to: 'NetworkFailure' });
    expect(lastLinkLoss(upTo(node2, 847.0), 'r0', [0], 'node1')).toEqual({ time: 782.81623, peerRole: 'Primary', to: 'NetworkFailure' });
    expect(lastLinkLoss(upTo(node2, 847.4), 'r0', [0], 'node1')).toBeUndefined();
    expect(lastLinkLoss(upTo(node2, 930), 'r0', [0], 'node1')).toEqual({ time: 927.707864, peerRole: 'Secondary', to: 'NetworkFailure' });
    expect(lastLinkLoss(node2, 'r0', [0], 'node1')).toBeUndefined();
  });

  it("DRBD 9: the peer promoted 10.7 s before the link went (within one 20 s monitor of the Unpromoted side) is Primary; other resources' and peers' lines do not count", () => {
    expect(node2.filter((m) => m.time > 771 && m.time < 773).map((m) => m.msg)).toContain('drbd r0 node1: peer( Secondary -> Primary ) [remote]');
    expect(lastLinkLoss(upTo(node2, 782.9), 'r0', [0], 'node1')?.peerRole).toBe('Primary');
    expect(lastLinkLoss(upTo(node2, 782.9), 'r1', [1], 'node1')).toBeUndefined();
    expect(lastLinkLoss(upTo(node2, 782.9), 'r0', [0], 'node3')).toBeUndefined();
  });

  it("DRBD 8.4: the connection's lines name the resource, the role changes the minor", () => {
    const lab84 = messages('drbd/lab-84-split-brain-dmesg.txt');
    expect(lastLinkLoss(upTo(lab84, 41.4), 'r0', [0], 'peer')).toEqual({ time: 41.340327, peerRole: 'Secondary', to: 'TearDown' });
    // The role the last `block drbd0: peer( … )` line left, when the connection's own line does not say.
    const promotedThenCut = [...upTo(lab84, 39.5), { time: 39.6, msg: 'drbd r0: conn( Connected -> NetworkFailure ) ' }];
    expect(lastLinkLoss(promotedThenCut, 'r0', [0])).toEqual({ time: 39.6, peerRole: 'Primary', to: 'NetworkFailure' });
    expect(lastLinkLoss(promotedThenCut, 'r0', [1])?.peerRole).toBe('Unknown');
  });
});
