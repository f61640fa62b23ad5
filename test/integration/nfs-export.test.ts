import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fsidFor } from '../../agents/nfs-export';
import { AGENT_DIR, ok, requireSandbox, runAgent, sh } from './netns';

requireSandbox();
// exportfs keeps its table in /var/lib/nfs: a private copy in this mount namespace keeps the host's untouched.
const work = mkdtempSync(join(tmpdir(), 'ocfkit-nfs-'));
const varlib = join(work, 'varlib');
const run = join(work, 'run');
beforeAll(() => {
  mkdirSync(varlib);
  for (const f of ['etab', 'rmtab']) writeFileSync(join(varlib, f), '');
  ok(['mount', '--bind', varlib, '/var/lib/nfs']);
});
afterAll(() => {
  sh(['umount', '/var/lib/nfs']);
});

const agent = (action: string, params: Record<string, string>, env: Record<string, string> = {}) =>
  runAgent('nfs-export', action, params, { HA_RSCTMP: run, ...env }, { instance: 'nfs-test' });
const exports = () => ok(['exportfs', '-s']);
const dir = (name: string) => {
  const d = join(work, name);
  mkdirSync(d, { recursive: true });
  return d;
};

describe('nfs-export: exports with the real exportfs (no kernel server on this machine)', () => {
  it('ocf-tester passes (manage_server=false)', () => {
    const d = dir('tester');
    const r = sh(['env', `HA_RSCTMP=${run}`, 'ocf-tester', '-n', 'nfs-t', '-o', `directory=${d}`, '-o', 'clientspec=192.0.2.0/24 fd00::/64', '-o', 'options=rw,no_subtree_check', '-o', 'manage_server=false', `${AGENT_DIR}/nfs-export`]);
    expect(r.stdout + r.stderr).toContain('passed all tests');
    expect(r.status).toBe(0);
    expect(exports()).not.toContain(d);
  });

  it('exports to every client spec with one fsid; idempotent; stop unexports exactly those', () => {
    const d = dir('multi dir');
    const other = dir('other');
    ok(['exportfs', '-o', 'ro,fsid=999,no_subtree_check', `192.0.2.99:${other}`]);
    const p = { directory: d, clientspec: '192.0.2.0/24 [fd00::]/64 * @trusted localhost', options: 'rw,no_subtree_check', manage_server: 'false' };
    expect(agent('monitor', p).code).toBe(7);
    const s = agent('start', p);
    expect(s.code, s.stderr).toBe(0);
    expect(agent('start', p).code).toBe(0);
    const fsid = fsidFor('nfs-test', '', '');
    const lines = exports().split('\n').filter((l) => l.startsWith(d.replace(/ /g, '\\040')));
    expect(lines).toHaveLength(5);
    for (const l of lines) expect(l).toContain(`fsid=${fsid},`);
    expect(agent('monitor', p, { OCF_RESKEY_CRM_meta_interval: '10000' }).code).toBe(0);
    expect(agent('stop', p).code).toBe(0);
    expect(exports()).not.toContain(d.replace(/ /g, '\\040'));
    expect(exports()).toContain(other);
    expect(agent('stop', p).code).toBe(0);
    expect(agent('monitor', p).code).toBe(7);
    ok(['exportfs', '-u', `192.0.2.99:${other}`]);
  });

  it('a client that does not resolve: start fails and exports nothing', () => {
    const d = dir('unresolvable');
    const r = agent('start', { directory: d, clientspec: '192.0.2.0/24 no-such-host.invalid', manage_server: 'false' });
    expect(r.code).toBe(1);
    expect(r.reason).toContain('no-such-host.invalid but does not list it');
    expect(exports()).not.toContain(d);
    expect(agent('monitor', { directory: d, clientspec: '192.0.2.0/24', manage_server: 'false' }).code).toBe(7);
  });

  it('the fsid is derived from the resource name: the same on every node, different per resource', () => {
    expect(fsidFor('nfs-a', '', '')).toBe(fsidFor('nfs-a', '', ''));
    expect(fsidFor('nfs-a:0', '', '')).toBe(fsidFor('nfs-a', '', ''));
    expect(fsidFor('nfs-a', '', '')).not.toBe(fsidFor('nfs-b', '', ''));
    expect(fsidFor('nfs-a', '', '')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(fsidFor('nfs-a', '7', 'rw')).toBe('7');
    expect(fsidFor('nfs-a', '', 'rw,fsid=12')).toBe('12');
  });

  it('a probe with the export in etab but no marker (a reboot) reports not running while nfsd is down', () => {
    const d = dir('stale');
    const p = { directory: d, clientspec: '192.0.2.0/24', manage_server: 'false', fsid: '42' };
    ok(['exportfs', '-o', 'rw,fsid=42', `192.0.2.0/24:${d}`]);
    expect(agent('monitor', p).code).toBe(7);
    expect(agent('stop', p).code).toBe(0);
    expect(exports()).not.toContain(d);
  });

  it('an export that disappeared under a running resource fails monitor', () => {
    const d = dir('vanish');
    const p = { directory: d, clientspec: '192.0.2.0/24 192.0.2.77', manage_server: 'false' };
    expect(agent('start', p).code).toBe(0);
    ok(['exportfs', '-u', `192.0.2.77:${d}`]);
    const m = agent('monitor', p, { OCF_RESKEY_CRM_meta_interval: '10000' });
    expect(m.code).toBe(1);
    expect(m.reason).toBe(`${d} is no longer exported to 192.0.2.77`);
    expect(agent('stop', p).code).toBe(0);
  });

  it('keeps NFSv3 mount records in the export and restores them on start', () => {
    const d = dir('rmtab');
    const p = { directory: d, clientspec: '192.0.2.0/24', manage_server: 'false' };
    expect(agent('start', p).code).toBe(0);
    writeFileSync(join(varlib, 'rmtab'), `192.0.2.30:${d}:0x00000001\n192.0.2.31:/elsewhere:0x00000001\n`);
    expect(agent('monitor', p, { OCF_RESKEY_CRM_meta_interval: '10000' }).code).toBe(0);
    expect(readFileSync(join(d, '.rmtab'), 'utf8')).toBe(`192.0.2.30:${d}:0x00000001\n`);
    // Unchanged since the last write: the monitor leaves the shared filesystem alone.
    writeFileSync(join(d, '.rmtab'), 'untouched\n');
    expect(agent('monitor', p, { OCF_RESKEY_CRM_meta_interval: '10000' }).code).toBe(0);
    expect(readFileSync(join(d, '.rmtab'), 'utf8')).toBe('untouched\n');
    // A new client: written again.
    writeFileSync(join(varlib, 'rmtab'), `192.0.2.30:${d}:0x00000001\n192.0.2.32:${d}:0x00000001\n`);
    expect(agent('monitor', p, { OCF_RESKEY_CRM_meta_interval: '10000' }).code).toBe(0);
    expect(readFileSync(join(d, '.rmtab'), 'utf8')).toBe(`192.0.2.30:${d}:0x00000001\n192.0.2.32:${d}:0x00000001\n`);
    writeFileSync(join(varlib, 'rmtab'), `192.0.2.30:${d}:0x00000001\n`);
    expect(agent('stop', p).code).toBe(0);
    writeFileSync(join(varlib, 'rmtab'), '');
    expect(agent('start', p).code).toBe(0);
    expect(readFileSync(join(varlib, 'rmtab'), 'utf8')).toContain(`192.0.2.30:${d}`);
    expect(agent('stop', p).code).toBe(0);
  });

  it('start with the server managed fails with 5 on a node without nfsd, and exports nothing', () => {
    const d = dir('managed');
    const r = agent('start', { directory: d, clientspec: '*' });
    expect(r.code).toBe(5);
    expect(r.reason).toContain('kernel NFS server (nfsd) is not available');
    expect(exports()).not.toContain(d);
  });
});

describe('nfs-export stop with parameters that no longer validate', () => {
  it('a check tightened since the start: stop unexports all the same', () => {
    const d = dir('tightened');
    const p = { directory: d, clientspec: '192.0.2.0/24', manage_server: 'false' };
    expect(agent('start', p).code).toBe(0);
    const r = agent('stop', { ...p, options: 'rw, sync' });
    expect(r.code, r.stderr).toBe(0);
    expect(exports()).not.toContain(d);
  });

  it('the controller lost the parameters: what this resource exported (its marker) is unexported', () => {
    const d = dir('lost');
    const p = { directory: d, clientspec: '192.0.2.0/24 192.0.2.77', manage_server: 'false' };
    expect(agent('start', p).code).toBe(0);
    const r = agent('stop', {});
    expect(r.code, r.stderr).toBe(0);
    expect(exports()).not.toContain(d);
    expect(agent('stop', {}).code).toBe(0);
  });

  it('without a marker: the exports of the directory to the still valid clients go', () => {
    const d = dir('unmarked');
    ok(['exportfs', '-o', 'rw,fsid=43', `192.0.2.0/24:${d}`]);
    const r = agent('stop', { directory: d, clientspec: '192.0.2.0/24 bad;client', manage_server: 'false' });
    expect(r.code, r.stderr).toBe(0);
    expect(exports()).not.toContain(d);
  });
});

describe('nfs-export bad input', () => {
  const good = () => ({ directory: dir('bad'), clientspec: '192.0.2.0/24', manage_server: 'false' });
  const table: Array<[string, Record<string, string>, number, RegExp]> = [
    ['directory relative', { directory: 'srv/nfs' }, 6, /not an absolute path/],
    ['directory dot-dot', { directory: '/srv/../etc' }, 6, /\. or \.\./],
    ['clientspec missing', { clientspec: '' }, 6, /clientspec is required/],
    ['clientspec metacharacters', { clientspec: '192.0.2.0/24;reboot' }, 6, /is not a client spec|not a prefix length/],
    ['clientspec host metacharacters', { clientspec: 'host;reboot' }, 6, /is not a client spec/],
    ['clientspec substitution', { clientspec: '$(id)' }, 6, /is not a client spec/],
    ['clientspec bad prefix', { clientspec: '192.0.2.0/33' }, 6, /not a prefix length or netmask/],
    ['clientspec bad IPv6 prefix', { clientspec: 'fd00::/200' }, 6, /is not a client spec|not a prefix length/],
    ['options with space', { options: 'rw, sync' }, 6, /comma-separated option list/],
    ['options backticks', { options: 'rw,`id`' }, 6, /comma-separated option list/],
    ['fsid word', { fsid: 'mine' }, 6, /is not an fsid/],
    ['fsid too big', { fsid: '99999999999' }, 6, /is not an fsid/],
    ['fsid conflicting with options', { fsid: '5', options: 'rw,fsid=6' }, 6, /options say fsid=6 but the fsid parameter is 5/],
    ['fsid bad in options', { options: 'rw,fsid=x;y' }, 6, /comma-separated option list|is not an fsid/],
    ['rmtab_backup path', { rmtab_backup: '../../etc/passwd' }, 6, /must be a file name or none/],
    ['infodir relative', { nfs_shared_infodir: 'state' }, 6, /not an absolute path/],
    // Under systemd the path reaches statd and nfsdcld as an unbraced $VARIABLE, which splits at whitespace.
    ['infodir with a space', { nfs_shared_infodir: '/srv/nfs state' }, 6, /has whitespace, a quote, a backslash or \$: systemd would split/],
    ['infodir with a $', { nfs_shared_infodir: '/srv/$HOME' }, 6, /has whitespace, a quote, a backslash or \$/],
    ['server scope metacharacters', { nfs_server_scope: 'vip;reboot' }, 6, /not a hostname-like scope/],
    ['nfs_ip not an address', { nfs_ip: 'somewhere' }, 6, /is not an address/],
    ['threads zero', { nfsd_threads: '0' }, 6, /below the minimum/],
    ['boolean garbage', { unlock_on_stop: 'sure' }, 6, /is not a boolean/],
  ];
  it.each(table.map(([name, override, code, reason]) => ({ name, override, code, reason })))('$name → exit $code', ({ override, code, reason }) => {
    const before = exports();
    for (const action of ['validate-all', 'start']) {
      const r = agent(action, { ...good(), ...override });
      expect(r.code, `${action}: ${r.stderr}`).toBe(code);
      expect(r.reason).toMatch(reason);
    }
    expect(exports()).toBe(before);
  });
});
