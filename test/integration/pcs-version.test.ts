/**
 * The stack plan for each pcs a cluster may run, through this machine's pcs 0.11, which still
 * accepts the pcs 0.10 forms (deprecated): both plans go through the real pcs -f and crm_verify.
 * Debian 11's pcs 0.10.8 takes the 0.10 plan and refuses the 0.11 one in package.test.ts.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requireSandbox, sh } from './netns';

requireSandbox();
const bin = join(__dirname, '..', '..', 'dist', 'ocfkit');
const work = mkdtempSync(join(tmpdir(), 'ocfkit-pcsv-'));
const flags = ['--nodes', 'node1,node2', '--drbd-resource', 'r0', '--device', '/dev/drbd0', '--directory', '/srv/nfs', '--fstype', 'xfs', '--ip', '192.0.2.10/24', '--nic', 'eth0', '--clients', '192.0.2.0/24', '--fencing', 'fence_dummy', '--fence-option', 'type=file'];

describe('ocfkit stack for pcs 0.10 and 0.11', () => {
  it('plan on a node uses the pcs found there (pcs --version)', () => {
    const here = sh(['pcs', '--version']).stdout.trim();
    const r = sh([bin, 'stack', 'plan', ...flags]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.split('\n').slice(0, 2)).toEqual(['#!/bin/sh', `# For pcs ${here.startsWith('0.10') ? '0.10' : '0.11'} (pcs --version on this node).`]);
    expect(sh([bin, 'stack', 'plan', ...flags, '--pcs-version', '0.9.169']).status).toBe(2);
  });

  it.each(['0.10', '0.11'])('--pcs-version %s: pcs -f builds the stack, crm_verify accepts the CIB, the roles are Promoted/Unpromoted', (v) => {
    const cib = join(work, `cib-${v}.xml`);
    const r = sh([bin, 'stack', 'apply', ...flags, '--pcs-version', v, '--cib', cib]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const verify = sh(['crm_verify', '-x', cib]);
    expect(verify.status, verify.stderr).toBe(0);
    const xml = readFileSync(cib, 'utf8');
    expect(xml).toMatch(/<op [^>]*role="Promoted"/);
    expect(xml).toMatch(/<op [^>]*role="Unpromoted"/);
    expect(xml).toMatch(/<rsc_colocation [^>]*with-rsc-role="Promoted"|<rsc_colocation [^>]*rsc-role="Promoted"/);
    expect(xml).toMatch(v === '0.10' ? /name="master-max" value="1"/ : /name="promoted-max" value="1"/);
    expect(xml).toMatch(/name="resource-stickiness" value="100"/);
  });
});
