import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clientSpecProblem, exportArgv, findExport, fsidOption, normalizeClient, parseExportLines, parseExportfsV, target, unexportArgv } from '../../lib/exportfs';

const sample = (f: string) => readFileSync(join(__dirname, '..', 'samples', 'exportfs', f), 'utf8');

describe('exportfs output (captured from nfs-utils 2.6.2 on Debian 12)', () => {
  const expected = [
    ['/tmp/exps/short', 'localhost', 'fsid=108'],
    ['/tmp/exps/with space', '192.0.2.5', 'fsid=104'],
    ['/tmp/exps/short', '192.0.2.0/255.255.255.128', 'fsid=107'],
    ['/tmp/exps/short', 'fd00::/64', 'fsid=105'],
    ['/tmp/exps/short', '192.0.2.0/24', 'fsid=101'],
    ['/tmp/exps/back\\slash', '@trusted', 'fsid=106'],
    ['/tmp/exps/a_very_long_directory_name_to_force_wrapping_in_exportfs_output', '*', 'fsid=102'],
  ];

  it('-s: one line each, octal escapes decoded, * for the world', () => {
    const list = parseExportLines(sample('exportfs-s.txt'));
    expect(list.map((e) => [e.dir, e.client, e.options.find((o) => o.startsWith('fsid='))])).toEqual(expected);
    expect(list[4]!.options).toContain('no_root_squash');
  });

  it('-v: wrapped lines joined, <world> read as *, raw paths with spaces and backslashes', () => {
    const list = parseExportfsV(sample('exportfs-v.txt'));
    expect(list.map((e) => [e.dir, e.client, e.options.find((o) => o.startsWith('fsid='))])).toEqual(expected);
  });

  it('etab (tab separated, full option set) reads the same way', () => {
    // etab was captured with the same exports; its order is its own.
    const list = parseExportLines(sample('etab.txt'));
    expect(list.map((e) => [e.dir, e.client]).sort()).toEqual(expected.map(([d, c]) => [d, c]).sort());
  });

  it('finds an export whatever the client spelling', () => {
    const list = parseExportLines(sample('exportfs-s.txt'));
    expect(findExport(list, '/tmp/exps/short', '[fd00::]/64')?.options).toContain('fsid=105');
    expect(findExport(list, '/tmp/exps/short', 'FD00::/64')).toBeDefined();
    expect(findExport(list, '/tmp/exps/a_very_long_directory_name_to_force_wrapping_in_exportfs_output', '<world>')).toBeDefined();
    expect(findExport(list, '/tmp/exps/short', '192.0.2.0/25')).toBeUndefined();
    expect(normalizeClient('[fd00::1]')).toBe('fd00::1');
  });
});

describe('client specs and argv', () => {
  it.each(['*', 'node1', 'node1.example.com', '*.example.com', 'node?.lab', '@trusted', '192.0.2.5', '192.0.2.0/24', '192.0.2.0/255.255.255.0', 'fd00::5', 'fd00::/64', '[fd00::]/64'])(
    '%s is a client spec',
    (s) => expect(clientSpecProblem(s)).toBeUndefined(),
  );
  it.each(['', 'a b', 'host;reboot', '$(id)', '192.0.2.0/33', '192.0.2.0/255.0.255.0', 'fd00::/129', '@', '@a b', '-rf', '../x', '[notv6]/64', 'x'.repeat(300)])(
    '%j is refused',
    (s) => expect(clientSpecProblem(s)).toBeDefined(),
  );
  it('puts IPv6 clients in brackets', () => {
    expect(target('fd00::/64', '/srv/nfs')).toBe('[fd00::]/64:/srv/nfs');
    expect(target('fd00::5', '/srv/nfs')).toBe('[fd00::5]:/srv/nfs');
    expect(target('[fd00::]/64', '/srv/nfs')).toBe('[fd00::]/64:/srv/nfs');
    expect(target('192.0.2.0/24', '/srv/nfs')).toBe('192.0.2.0/24:/srv/nfs');
    expect(exportArgv('*', '/srv/a b', 'rw,fsid=7')).toEqual(['exportfs', '-v', '-o', 'rw,fsid=7', '*:/srv/a b']);
    expect(unexportArgv('@trusted', '/srv')).toEqual(['exportfs', '-v', '-u', '@trusted:/srv']);
    expect(fsidOption('rw,fsid=12,sync')).toBe('12');
    expect(fsidOption('rw,sync')).toBeUndefined();
  });
});
