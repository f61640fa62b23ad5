/**
 * A state directory (HA_RSCTMP) that is read-only or full, through the built executable: under Bun,
 * rmSync with `force` throws EROFS even for a file that is not there, which Node (the unit tests)
 * never shows. Bookkeeping there must never fail an action; what needs a state file fails before it
 * changes anything.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Segment, ok, requireSandbox, runAgent, sh } from './netns';

requireSandbox();
const work = mkdtempSync(join(tmpdir(), 'ocfkit-statedir-'));
const mounted: string[] = [];
let varlib: string;

/** A tmpfs of SIZE as a state directory, with ocfkit's own directory already in it. */
function tmpfs(name: string, size: string): string {
  const d = join(work, name);
  mkdirSync(d);
  ok(['mount', '-t', 'tmpfs', '-o', `size=${size}`, name, d]);
  mounted.push(d);
  mkdirSync(join(d, 'ocfkit'));
  return d;
}

function readOnly(name: string): string {
  const d = tmpfs(name, '1m');
  ok(['mount', '-o', 'remount,ro', d]);
  return d;
}

function full(name: string): string {
  const d = tmpfs(name, '16k');
  // dd stops at ENOSPC: every page of the filesystem is taken.
  sh(['dd', 'if=/dev/zero', `of=${join(d, 'filler')}`, 'bs=4096']);
  expect(sh(['sh', '-c', 'echo x > "$0"', join(d, 'ocfkit', 'probe')]).status).not.toBe(0);
  return d;
}

beforeAll(() => {
  // exportfs keeps its table in /var/lib/nfs: a private copy in this mount namespace.
  varlib = join(work, 'varlib');
  mkdirSync(varlib);
  for (const f of ['etab', 'rmtab']) writeFileSync(join(varlib, f), '');
  ok(['mount', '--bind', varlib, '/var/lib/nfs']);
});
afterAll(() => {
  sh(['umount', '/var/lib/nfs']);
  for (const d of mounted.reverse()) sh(['umount', d]);
});

/** An nfs-export resource of its own (manage_server=false) with RSCTMP as its state directory. */
function nfsExport(rsctmp: string, name: string) {
  const d = join(work, name);
  mkdirSync(d);
  const p = { directory: d, clientspec: '192.0.2.0/24', manage_server: 'false' };
  return { d, nfs: (action: string) => runAgent('nfs-export', action, p, { HA_RSCTMP: rsctmp }, { instance: name }) };
}

const exports = () => ok(['exportfs', '-s']);
const exported = (d: string) => exports().split('\n').some((l) => l.split(/\s/)[0] === d);

describe('a read-only state directory', () => {
  it('vip: start, monitor and stop succeed; the stop of the stopped address too', () => {
    const rsctmp = readOnly('ro-vip');
    const seg = new Segment('rostate');
    try {
      const p = { ip: '192.0.2.50', cidr_netmask: '24', nic: 'v0', run_arping: 'false' };
      const env = { HA_RSCTMP: rsctmp };
      expect(seg.agent('vip', 'stop', p, env).code).toBe(0);
      expect(seg.agent('vip', 'monitor', p, env).code).toBe(7);
      expect(seg.agent('vip', 'start', p, env).code).toBe(0);
      expect(seg.agent('vip', 'monitor', p, { ...env, OCF_RESKEY_CRM_meta_interval: '10000' }).code).toBe(0);
      const s = seg.agent('vip', 'stop', p, env);
      expect(s.code, s.stderr).toBe(0);
      expect(seg.has('192.0.2.50')).toBe(false);
      expect(seg.agent('vip', 'stop', p, env).code).toBe(0);
    } finally {
      seg.destroy();
    }
  });

  it('nfs-export: the stop of a stopped export succeeds; start fails before it exports anything', () => {
    const { d, nfs } = nfsExport(readOnly('ro-nfs'), 'nfs-ro');
    expect(nfs('stop').code).toBe(0);
    expect(nfs('monitor').code).toBe(7);
    const s = nfs('start');
    expect(s.code).toBe(1);
    expect(s.reason).toMatch(/cannot write .*nfs-export-nfs-ro\.json .*exported nothing/);
    expect(exported(d)).toBe(false);
    expect(nfs('stop').code).toBe(0);
  });

  it('drbd-promote: the stop of a stopped resource succeeds', () => {
    const rsctmp = readOnly('ro-drbd');
    const r = runAgent('drbd-promote', 'stop', { drbd_resource: 'r0' }, { HA_RSCTMP: rsctmp }, { instance: 'drbd-r0:0' });
    expect(r.code, r.stderr).toBe(0);
  });
});

describe('a full state directory', () => {
  it('nfs-export start either fails before it exports or succeeds, never fails with the export left behind', () => {
    const { d, nfs } = nfsExport(full('full-nfs'), 'nfs-full');
    const s = nfs('start');
    if (s.code === 0) expect(exported(d)).toBe(true);
    else {
      expect(s.code).toBe(1);
      expect(s.reason).toContain('exported nothing');
      expect(exported(d)).toBe(false);
    }
    expect(nfs('stop').code).toBe(0);
    expect(exported(d)).toBe(false);
  });
});
