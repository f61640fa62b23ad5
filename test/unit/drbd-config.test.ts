import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { logProblemChange } from '../../agents/drbd-promote';
import { configFindings, drbdConfigFacts, parseConfigBlocks } from '../../lib/drbd-config';
import type { Logger } from '../../lib/ocf/log';
import { type RunResult, describe as describeRun, toolWords } from '../../lib/run';

const sample = (f: string) => readFileSync(join(__dirname, '..', 'samples', 'drbd9', f), 'utf8');

describe('DRBD configuration: drbdadm dump and drbdsetup show (9.2.19 / drbd-utils 9.22, captured)', () => {
  it('the lab resource as made: defaults omitted, so auto-promote is DRBD 9\'s default (yes), no quorum, no fencing', () => {
    for (const f of ['s01-secondary-connected-node1-drbdadm-dump.txt', 's01-secondary-connected-node2-drbdadm-dump.txt']) {
      const c = drbdConfigFacts(sample(f), 'r0')!;
      expect(c).toMatchObject({ resource: 'r0', autoPromote: undefined, quorum: undefined, fencing: undefined, handlers: {} });
      expect(c.hosts).toEqual([
        { name: 'node1', diskless: false },
        { name: 'node2', diskless: false },
      ]);
    }
    const show = drbdConfigFacts(sample('s01-secondary-connected-node1-drbdsetup-show.txt'), 'r0')!;
    expect(show).toMatchObject({ autoPromote: undefined, quorum: undefined, hosts: [], connections: 1 });
    expect(drbdConfigFacts(sample('s01-secondary-connected-node1-drbdadm-dump.txt'), 'r1')).toBeUndefined();
  });

  it('quorum majority, from the dump and from the kernel (s11)', () => {
    expect(drbdConfigFacts(sample('s11-quorum-configured-node1-drbdadm-dump.txt'), 'r0')).toMatchObject({ quorum: 'majority' });
    expect(drbdConfigFacts(sample('s11-quorum-configured-node1-drbdsetup-show.txt'), 'r0')).toMatchObject({ quorum: 'majority', connections: 1 });
  });

  it('findings on DRBD 9: auto-promote with the fix; two-node quorum majority with the way out', () => {
    const lab = configFindings(drbdConfigFacts(sample('s01-secondary-connected-node1-drbdadm-dump.txt'), 'r0')!, 9);
    expect(lab).toHaveLength(1);
    expect(lab[0]).toMatchObject({ level: 'warning' });
    expect(lab[0]!.text).toContain('auto-promote yes (the DRBD 9 default)');
    expect(lab[0]!.text).toContain('options { auto-promote no; }');
    for (const f of ['s11-quorum-configured-node1-drbdadm-dump.txt', 's11-quorum-configured-node1-drbdsetup-show.txt']) {
      const q = configFindings(drbdConfigFacts(sample(f), 'r0')!, 9).map((x) => x.text);
      expect(q.some((t) => /quorum majority with two nodes: a cut replication link takes quorum .* from both, so neither serves; add a third node, a diskless tie-breaker/.test(t)), f).toBe(true);
    }
    // 8.4 has no auto-promote and no DRBD quorum: nothing to say about either.
    expect(configFindings(drbdConfigFacts(sample('s11-quorum-configured-node1-drbdadm-dump.txt'), 'r0')!, 8)).toEqual([]);
  });

  const withOptions = (extra: string) =>
    sample('s01-secondary-connected-node1-drbdadm-dump.txt').replace('    net {\n        protocol           C;\n    }', extra);

  it('auto-promote no, a diskless tie-breaker and fencing handlers of the right generation: quiet', () => {
    const text = withOptions(`    options {
        auto-promote     no;
        quorum           majority;
    }
    on node3 {
        node-id 2;
        address          ipv4 198.51.100.13:7789;
        volume 0 {
            disk         none;
        }
    }
    net {
        protocol           C;
        fencing          resource-and-stonith;
    }
    handlers {
        fence-peer       "/usr/lib/drbd/crm-fence-peer.9.sh";
        unfence-peer     "/usr/lib/drbd/crm-unfence-peer.9.sh";
    }`);
    const c = drbdConfigFacts(text, 'r0')!;
    expect(c).toMatchObject({ autoPromote: false, quorum: 'majority', fencing: 'resource-and-stonith' });
    expect(c.hosts.map((h) => [h.name, h.diskless])).toEqual([
      ['node1', false],
      ['node2', false],
      ['node3', true],
    ]);
    expect(configFindings(c, 9)).toEqual([]);
  });

  it('handlers of the other generation are an error naming the right one', () => {
    const text = withOptions(`    options {
        auto-promote     no;
    }
    net {
        fencing          resource-and-stonith;
    }
    handlers {
        fence-peer       "/usr/lib/drbd/crm-fence-peer.sh";
        after-resync-target "/usr/lib/drbd/crm-unfence-peer.sh";
    }`);
    const on9 = configFindings(drbdConfigFacts(text, 'r0')!, 9);
    expect(on9.map((f) => f.level)).toEqual(['error', 'error']);
    expect(on9[0]!.text).toBe('DRBD r0: handler fence-peer runs crm-fence-peer.sh, which is for DRBD 8.4; the loaded module is DRBD 9: use crm-fence-peer.9.sh');
    expect(on9[1]!.text).toContain('use crm-unfence-peer.9.sh');
    expect(configFindings(drbdConfigFacts(text, 'r0')!, 8)).toEqual([]);
    const nine = text.replace('crm-fence-peer.sh', 'crm-fence-peer.9.sh');
    expect(configFindings(drbdConfigFacts(nine, 'r0')!, 8)[0]!.text).toContain('which is for DRBD 9; the loaded module is DRBD 8.4: use crm-fence-peer.sh');
  });

  it('the block syntax: comments, quoted words, nested blocks', () => {
    expect(parseConfigBlocks('# c\nresource "a b" { options { quorum majority; } # x\n on h { disk none; } }')).toEqual([
      { words: ['resource', 'a b'], children: [{ words: ['options'], children: [{ words: ['quorum', 'majority'] }] }, { words: ['on', 'h'], children: [{ words: ['disk', 'none'] }] }] },
    ]);
  });
});

const result = (stderr: string, argv: string[], code = 11): RunResult => ({ argv, code, signal: null, stdout: '', stderr, durationMs: 5, timedOut: false, abandoned: false });

describe('exit reasons keep the line that says why', () => {
  // A refused demote on DRBD 9 as drbdsetup prints it: the cause, then the kernel's additional
  // info, then drbdadm's wrapper. Not in the capture (test/samples/drbd9): the first line is the
  // issue's (issue 16), the kernel lines have the shape a public DRBD 9 driver's test quotes.
  const heldOpen = [
    'r0: State change failed: (-12) Device is held open by someone',
    'additional info from kernel:',
    '/dev/drbd0 open_ro_cnt:0, open_rw_cnt:1; list of openers follows',
    'drbd0 opened by sleep (pid 2345) at 2026-12-01 21:55:50.123',
    "Command 'drbdsetup secondary r0' terminated with exit code 11",
    '',
  ].join('\n');

  it('DRBD 9: the cause first, the kernel info next, and it fits in Pacemaker\'s 128 characters', () => {
    expect(toolWords(heldOpen)[0]).toBe('r0: State change failed: (-12) Device is held open by someone');
    const r = result(heldOpen, ['drbdadm', 'secondary', 'r0']);
    const reason = `r0 cannot be demoted: ${describeRun(r)}`;
    expect(reason.slice(0, 128)).toContain('State change failed: (-12) Device is held open by someone');
    expect(reason).toContain('drbd0 opened by sleep (pid 2345)');
    // The old rule (the last three lines) lost the cause.
    expect(heldOpen.trim().split('\n').slice(-3).join(' / ')).not.toContain('State change failed');
  });

  it('real drbd-utils 9.22 failures from the capture: the message before the wrapper', () => {
    const outdate = result(sample('stderr/s08-outdated-disconnected-node2-drbdadm-outdate-failing.stderr.txt'), ['drbdadm', 'outdate', 'r0'], 20);
    expect(describeRun(outdate)).toBe("`drbdadm outdate r0` exited 20: Device '0' is configured! / Command 'drbdmeta 0 v09 /dev/vda internal outdate' terminated with exit code 20");
    const status = result(sample('stderr/s10-down-on-node2-node2-drbdadm-status.stderr.txt'), ['drbdadm', 'status', 'r0'], 10);
    expect(describeRun(status)).toBe("`drbdadm status r0` exited 10: r0: No such resource / Command 'drbdsetup status r0' terminated with exit code 10");
  });

  it('8.4 (drbdsetup-84) refusals keep their cause too', () => {
    const lines = ['0: State change failed: (-12) Device is held open by someone', "Command 'drbdsetup-84 secondary 0' terminated with exit code 11"].join('\n');
    expect(toolWords(lines)[0]).toMatch(/^0: State change failed: \(-12\)/);
    const failure = ['r0: Failure: (158) Unknown resource', 'additional info from kernel:', 'unknown resource', "Command 'drbdsetup-84 connect r0 ipv4:192.0.2.2:7788 ipv4:192.0.2.1:7788' terminated with exit code 10"].join('\n');
    expect(toolWords(failure)).toEqual(['r0: Failure: (158) Unknown resource', 'unknown resource']);
  });

  it('other tools: still their last lines', () => {
    expect(toolWords('a\nb\nc\nd\n')).toEqual(['b', 'c', 'd']);
    expect(describeRun(result('mount: /srv: wrong fs type\n', ['mount', '/dev/x', '/srv'], 32))).toBe('`mount /dev/x /srv` exited 32: mount: /srv: wrong fs type');
  });

  it('the command as the caller shows it', () => {
    const r = result('x', ['drbdadm', '-c', '/etc/drbd.conf', 'secondary', 'r0']);
    expect(describeRun(r, ['drbdadm', 'secondary', 'r0'])).toBe('`drbdadm secondary r0` exited 11: x');
  });
});

describe('a degraded Primary is logged once per change, not per monitor', () => {
  const logger = () => {
    const lines: string[] = [];
    const log = { warn: (m: string) => lines.push(`WARNING: ${m}`), info: (m: string) => lines.push(`INFO: ${m}`) } as unknown as Logger;
    return { lines, log };
  };

  it('warns when the problem appears or changes, says when it ends, and stays quiet in between', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ocfkit-problem-')), 'run', 'drbd-promote-r0.problem');
    const { lines, log } = logger();
    const down = 'replication link of r0 is down (Connecting); the peer\'s data is not being updated';
    logProblemChange(log, file, undefined);
    expect(lines).toEqual([]);
    for (let i = 0; i < 5; i++) logProblemChange(log, file, down);
    expect(lines).toEqual([`WARNING: ${down}`]);
    expect(readFileSync(file, 'utf8')).toBe(down);
    logProblemChange(log, file, 'replication link of r0 is StandAlone');
    logProblemChange(log, file, 'replication link of r0 is StandAlone');
    logProblemChange(log, file, undefined);
    logProblemChange(log, file, undefined);
    expect(lines).toEqual([`WARNING: ${down}`, 'WARNING: replication link of r0 is StandAlone', 'INFO: replication healthy again (was: replication link of r0 is StandAlone)']);
  });
});
