import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Arping, announceArgv, announceFailed, arpingKind, dadArgv, dadVerdict, dadWindowMs, parseDadReply } from '../../lib/arping';

const samples = join(__dirname, '..', 'samples', 'arping');
const read = (f: string) => {
  try {
    return readFileSync(join(samples, f), 'utf8');
  } catch {
    return '';
  }
};
/** A capture in habets-2.23/ or iputils-20221126/: the argv it ran, stdout, stderr, exit code. */
const capture = (dir: string, name: string) => ({
  argv: read(`${dir}/${name}.argv`).trim().split(' '),
  stdout: read(`${dir}/${name}.stdout`),
  stderr: read(`${dir}/${name}.stderr`),
  code: Number(read(`${dir}/${name}.exit`)),
  timedOut: false,
});
/** The older captures (iputils 20221126, Debian 12): stdout, then a line "exit N". */
const iputilsDad = (f: string) => {
  const text = read(f);
  return { stdout: text.replace(/exit \d+\n?$/, ''), code: Number(/exit (\d+)\n?$/.exec(text)![1]), timedOut: false };
};

const habetsCap = (name: string) => capture('habets-2.23', name);
const iputils = arpingKind(read('iputils-20221126/version.stdout'))!;
const v = habetsCap('version');
const habets = arpingKind(`${v.stdout}\n${v.stderr}`)!;

describe('which arping (arping -V, captured)', () => {
  it('iputils 20221126 has -i; Habets 2.23 answers -V with its usage and exit 1', () => {
    expect(iputils).toEqual({ kind: 'iputils', version: '20221126', interval: true });
    expect(v.code).toBe(1);
    expect(habets).toEqual({ kind: 'habets', version: '2.23' });
    expect(arpingKind('arping: invalid option -- V\n')).toBeUndefined();
    expect(arpingKind('')).toBeUndefined();
  });
});

describe('argv for each arping', () => {
  it("Habets': the probe from 0.0.0.0 and both announcement styles, as captured", () => {
    expect(dadArgv(habets, 'rta0', '192.0.2.99')).toEqual(habetsCap('dad-taken').argv);
    expect(announceArgv(habets, 'request', 'rta0', '192.0.2.50', 2, 200)).toEqual(habetsCap('announce-request').argv);
    expect(announceArgv(habets, 'reply', 'rta0', '192.0.2.50', 2, 200)).toEqual(habetsCap('announce-reply').argv);
  });

  it("iputils': -D and -I; -i in whole seconds only where the version has it", () => {
    expect(dadArgv(iputils, 'eth0', '192.0.2.1')).toEqual(['arping', '-D', '-c', '1', '-w', '1', '-I', 'eth0', '192.0.2.1']);
    expect(announceArgv(iputils, 'reply', 'eth0', '192.0.2.1', 5, 1500)).toEqual(['arping', '-A', '-c', '5', '-i', '2', '-I', 'eth0', '192.0.2.1']);
    const old: Arping = { kind: 'iputils', version: '20180629', interval: false };
    expect(announceArgv(old, 'request', 'eth0', '192.0.2.1', 5, 1500)).toEqual(['arping', '-U', '-c', '5', '-I', 'eth0', '192.0.2.1']);
  });
});

describe('what a duplicate probe says', () => {
  it('iputils: a reply is taken, silence after "Sent 1 probes" is free', () => {
    expect(parseDadReply(read('dad-taken.txt'))).toEqual({ address: '192.0.2.99', mac: 'a2:61:ac:04:43:3c' });
    expect(dadVerdict(iputils, iputilsDad('dad-taken.txt'))).toEqual({ taken: { address: '192.0.2.99', mac: 'a2:61:ac:04:43:3c' } });
    expect(dadVerdict(iputils, iputilsDad('dad-free.txt'))).toEqual({ free: true });
  });

  it("Habets': a reply is taken, a timeout is free; iputils' argv there (-D: a display mode) is a failed probe, not a free address", () => {
    expect(dadVerdict(habets, habetsCap('dad-taken'))).toEqual({ taken: { address: '192.0.2.99', mac: 'ce:58:05:d2:d5:ca' } });
    expect(dadVerdict(habets, habetsCap('dad-free'))).toEqual({ free: true });
    const wrong = habetsCap('dad-iputils-argv');
    expect(wrong.code).toBe(0);
    expect(dadVerdict(habets, wrong)).toHaveProperty('failed');
  });

  it('an error or a probe cut short by our own window: free only once arping said it had sent', () => {
    expect(dadVerdict(iputils, { code: 2, stdout: '', timedOut: false })).toHaveProperty('failed');
    // iputils stopped by SIGTERM while listening prints its summary and exits 0.
    const listening = capture('iputils-20221126', 'dad-sigterm');
    expect(dadVerdict(iputils, { ...listening, timedOut: true })).toEqual({ free: true });
    // Stopped before it got as far as sending (a loaded node): nothing said, nothing proven.
    expect(dadVerdict(iputils, { code: null, stdout: '', timedOut: true })).toEqual({ failed: 'the window closed before arping said it had sent the probe' });
    expect(dadVerdict(iputils, { code: 0, stdout: 'ARPING 192.0.2.77 from 0.0.0.0 v0\n', timedOut: true })).toHaveProperty('failed');
    expect(dadVerdict(habets, { code: null, stdout: '', timedOut: true })).toHaveProperty('failed');
    expect(dadWindowMs(iputils, 500)).toBe(500);
    expect(dadWindowMs(habets, 500)).toBe(2000);
    expect(dadVerdict(habets, { code: 1, stdout: v.stdout, timedOut: false })).toHaveProperty('failed');
  });
});

describe('an announcement that ended at once', () => {
  it("Habets' exit 1 after sending is normal; its usage error on stderr is a failure; iputils fails on anything but 0", () => {
    const sent = habetsCap('announce-request');
    expect(announceFailed(habets, sent.code, sent.stderr)).toBe(false);
    expect(announceFailed(habets, v.code, v.stderr)).toBe(true);
    expect(announceFailed(iputils, 0, '')).toBe(false);
    expect(announceFailed(iputils, 2, '')).toBe(true);
    expect(announceFailed(iputils, null, '')).toBe(true);
  });
});
