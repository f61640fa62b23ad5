import { existsSync, lstatSync, mkdtempSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
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
    ok(['env', `DESTDIR=${dest}`, 'bash', join(top, 'scripts', 'install.sh'), '--uninstall']);
    for (const p of ['usr/lib/ocfkit', 'usr/lib/ocf/resource.d/ocfkit', 'usr/sbin/ocfkit']) expect(existsSync(join(dest, p))).toBe(false);
  });
});
