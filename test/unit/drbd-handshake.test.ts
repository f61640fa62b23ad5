/**
 * DRBD's handshake lines in the kernel log, on a real DRBD 9.2 capture (the split brain of state s07
 * and its resolution) and on DRBD 8.4's from the lab's two-site test.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeHandshake, lastHandshake } from '../../lib/drbd-handshake';
import { parseDmesgJson } from '../../lib/kernel-log';

/** The messages of a captured `dmesg` (the "[   seconds] " prefix off), oldest first. */
const messages = (f: string) =>
  readFileSync(join(__dirname, '..', 'samples', 'drbd9', f), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.replace(/^\[\s*[\d.]+\] /, ''));

describe('the last DRBD handshake in the kernel log', () => {
  const node1 = messages('capture-node1-dmesg.txt');
  const refused = node1.findIndex((m) => m.includes('Split-Brain detected but unresolved'));

  it('a refused handshake (DRBD 9): both sides moved on from one generation, each with its own changes, and the split brain', () => {
    expect(refused).toBeGreaterThan(0);
    const h = lastHandshake(node1.slice(0, refused + 1), 0);
    expect(h).toEqual({
      self: { current: 'FB56BC7C43B0B8DD', bitmap: 'CCAC704952B5A188', history: ['68BB99F15AABA6B6', '3BE87B19671A6B62'], bits: 4096 },
      peer: { current: '82CBDBD24313BFCD', bitmap: 'CCAC704952B5A188', history: ['3BE87B19671A6B62', '0000000000000000'], bits: 4096 },
      splitBrain: true,
    });
    expect(describeHandshake(h!)).toBe(
      "At DRBD's last handshake this site was at generation FB56BC7C43B0B8DD with 16384 KiB changed (since generation CCAC704952B5A188), the other site at 82CBDBD24313BFCD with 16384 KiB changed (since generation CCAC704952B5A188). Both moved on from generation CCAC704952B5A188, the last they shared.",
    );
  });

  it('the whole log: the last handshake is the one after the split brain was resolved, none pending', () => {
    const h = lastHandshake(node1, 0);
    expect(h?.splitBrain).toBe(false);
    expect(h?.self.bits).toBe(0);
    expect(lastHandshake(node1, 1)).toBeUndefined();
  });

  it('DRBD 9 names the peer in each line: only that connection\'s handshake counts (with several peers they interleave)', () => {
    expect(lastHandshake(node1.slice(0, refused + 1), 0, 'node2')).toEqual(lastHandshake(node1.slice(0, refused + 1), 0));
    expect(lastHandshake(node1, 0, 'node3')).toBeUndefined();
  });

  it("8.4's form of the lines (block drbd0: …), from the two-site lab test's split brain: the generations compared without their lowest bit", () => {
    const lab84 = readFileSync(join(__dirname, '..', 'samples', 'drbd', 'lab-84-split-brain-dmesg.txt'), 'utf8').split('\n').filter(Boolean).map((l) => l.replace(/^\[\s*[\d.]+\] /, ''));
    const refusedAt = lab84.findIndex((m) => m.includes('Split-Brain detected but unresolved'));
    const h = lastHandshake(lab84.slice(0, refusedAt + 1), 0);
    expect(h).toEqual({
      self: { current: '48A83C7053BE9F5D', bitmap: '65FD78369738A690', history: ['DCFC1F052662179E', 'DCFB1F052662179E'], bits: 1077 },
      peer: { current: 'E575590D6A486152', bitmap: '65FD78369738A691', history: ['DCFC1F052662179E', 'DCFB1F052662179E'], bits: 4096 },
      splitBrain: true,
    });
    expect(describeHandshake(h!)).toContain('Both moved on from generation 65FD78369738A690');
    expect(lastHandshake(lab84, 0)?.splitBrain).toBe(false);
  });

  it('reads the messages of dmesg --json', () => {
    const text = '{\n   "dmesg": [\n      {\n         "pri": 6,\n         "time":    17.926194,\n         "msg": "block drbd0: self 0000000000000004:0000000000000000:0000000000000000:0000000000000000 bits:16374 flags:0"\n      }\n   ]\n}\n';
    expect(parseDmesgJson(text)).toEqual([{ time: 17.926194, msg: 'block drbd0: self 0000000000000004:0000000000000000:0000000000000000:0000000000000000 bits:16374 flags:0' }]);
  });
});
