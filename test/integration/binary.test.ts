import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGENT_DIR, ok, requireSandbox, sh } from './netns';

requireSandbox();
const top = join(__dirname, '..', '..');
const bin = join(top, 'dist', 'ocfkit');

describe('the single binary', () => {
  it('runs on Bun and dispatches on the name it was called by', () => {
    expect(ok([bin, '--version'])).toMatch(/^ocfkit \S+ \(bun 1\.\d+\.\d+\)$/m);
    expect(ok([bin, 'agents']).trim().split('\n')).toContain('vip');
    expect(ok([join(top, 'dist', 'vip'), 'meta-data'])).toContain('<resource-agent name="vip"');
    expect(ok([bin, 'vip', 'meta-data'])).toContain('<resource-agent name="vip"');
    const r = sh([bin, 'nosuchagent']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('usage: ocfkit <agent> <action>');
  });

  it('ignores NODE_OPTIONS: no environment variable can make it load other code', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ocfkit-inject-'));
    writeFileSync(join(dir, 'evil.js'), `require('fs').writeFileSync(${JSON.stringify(join(dir, 'ran'))}, 'x');`);
    const r = sh(['env', `NODE_OPTIONS=--require ${join(dir, 'evil.js')}`, join(top, 'dist', 'vip'), 'meta-data']);
    expect(r.status).toBe(0);
    expect(existsSync(join(dir, 'ran'))).toBe(false);
  });

  it('meta-data runs as nobody from the installed location (as ocf-tester does)', () => {
    const r = sh(['su', 'nobody', '-s', '/bin/sh', '-c', `${AGENT_DIR}/vip meta-data`]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">');
  });

  it('install honours DESTDIR with mode 755 and relative links; uninstall removes it all', () => {
    const dest = mkdtempSync(join(tmpdir(), 'ocfkit-destdir-'));
    ok(['env', `DESTDIR=${dest}`, 'bash', join(top, 'scripts', 'install.sh')]);
    const real = join(dest, 'usr/lib/ocfkit/ocfkit');
    expect(statSync(real).mode & 0o777).toBe(0o755);
    const link = join(dest, 'usr/lib/ocf/resource.d/ocfkit/vip');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe('../../../ocfkit/ocfkit');
    expect(ok([link, 'meta-data'])).toContain('name="vip"');
    expect(readlinkSync(join(dest, 'usr/sbin/ocfkit'))).toBe('../lib/ocfkit/ocfkit');
    // The static drop-ins for the NFS units, naming the wrapper where it was installed.
    const wrapper = join(dest, 'usr/lib/ocfkit/nfs-unit-exec');
    expect(statSync(wrapper).mode & 0o777).toBe(0o755);
    for (const unit of ['nfs-server.service', 'nfsdcld.service', 'rpc-statd.service']) {
      const f = join(dest, 'usr/lib/systemd/system', `${unit}.d/60-ocfkit-nfs.conf`);
      expect(statSync(f).mode & 0o777).toBe(0o644);
      const text = readFileSync(f, 'utf8');
      expect(text).toContain('\nEnvironmentFile=-/run/ocfkit/nfs-server.env\n');
      expect(text).toContain('\nExecStart=\nExecStart=/usr/lib/ocfkit/nfs-unit-exec ');
    }
    // The server scope: the program runs in a UTS namespace of its own, named as asked; this one keeps its name.
    expect(ok([wrapper, '--uts-hostname', 'scope.example', 'hostname']).trim()).toBe('scope.example');
    expect(ok(['hostname']).trim()).not.toBe('scope.example');
    ok(['env', `DESTDIR=${dest}`, 'bash', join(top, 'scripts', 'install.sh'), '--uninstall']);
    for (const p of ['usr/lib/ocfkit', 'usr/lib/ocf/resource.d/ocfkit', 'usr/sbin/ocfkit', 'usr/lib/systemd/system/nfs-server.service.d', 'usr/lib/systemd/system/nfsdcld.service.d', 'usr/lib/systemd/system/rpc-statd.service.d']) expect(existsSync(join(dest, p))).toBe(false);
  });
});
