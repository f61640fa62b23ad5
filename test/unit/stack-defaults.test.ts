/** `ocfkit stack` finds its configuration and site as `ocfkit site` does. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stackFromFlags } from '../../commands/cli';

const twoSites = {
  sites: { a: { nodes: ['node1'], fencing: 'none' }, b: { nodes: [hostname()], fencing: 'none' } },
  services: [{ name: 'etcd', drbd_resource: 'r0', device: '/dev/drbd0', directory: '/var/lib/etcd', fstype: 'ext4' }],
};
const noFlags = { name: 'nfs', exportOptions: 'rw,sync,no_subtree_check', fenceOption: [] } as unknown as Parameters<typeof stackFromFlags>[0];

describe('ocfkit stack: the configuration and the site when none is named', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'ocfkit-stack-defaults-')), 'stack.json');
  writeFileSync(file, JSON.stringify(twoSites));

  it('no flags: the default configuration, and the site whose nodes include this host', () => {
    const st = stackFromFlags(noFlags, file);
    expect(st.site?.name).toBe('b');
    expect(st.services.map((s) => s.name)).toEqual(['etcd']);
    expect(stackFromFlags({ ...noFlags, site: 'a' }, file).site?.name).toBe('a');
    expect(stackFromFlags({ ...noFlags, config: file }).site?.name).toBe('b');
  });

  it('a service described by flags is not mixed with the default file; no file, no default', () => {
    expect(() => stackFromFlags({ ...noFlags, device: '/dev/drbd1' }, file)).toThrow(/say how nodes are fenced/);
    expect(() => stackFromFlags(noFlags, join(tmpdir(), 'ocfkit-no-such-file.json'))).toThrow(/say how nodes are fenced/);
  });

  it('a host in no site: says to name one', () => {
    const other = join(mkdtempSync(join(tmpdir(), 'ocfkit-stack-defaults-')), 'stack.json');
    writeFileSync(other, JSON.stringify({ ...twoSites, sites: { a: { nodes: ['node1'], fencing: 'none' }, b: { nodes: ['node2'], fencing: 'none' } } }));
    expect(() => stackFromFlags(noFlags, other)).toThrow(/this host \(.*\) is in no site's nodes: say which site with --site a\|b/);
  });
});
