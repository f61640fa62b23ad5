/**
 * The quick demo end to end (docs/lab.md#the-demo): `scripts/demo.sh --quick` starts a one-node Corosync + Pacemaker cluster in
 * private namespaces, runs ocf:ocfkit:vip under it, cuts the link and restores it, then tears the
 * node down. It checks every step itself (non-zero exit otherwise); this test also checks what a
 * reader of its output is promised.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(__dirname, '..', '..');

describe('scripts/demo.sh --quick', () => {
  it('runs the floating address under Pacemaker, fails its monitor on link loss and recovers', () => {
    if (process.getuid?.() !== 0) throw new Error('the demo needs root (namespaces, corosync, pacemaker)');
    // SIGTERM on timeout: the demo's EXIT trap still tears the node down.
    const r = spawnSync('bash', [join(root, 'scripts', 'demo.sh'), '--quick'], {
      cwd: root,
      encoding: 'utf8',
      // scripts/test.sh has just built dist/: the demo uses it as it is.
      env: { ...process.env, OCFKIT_DEMO_NO_BUILD: '1' },
      timeout: 230_000,
      killSignal: 'SIGTERM',
      maxBuffer: 16 * 1024 * 1024,
    });
    const out = `${r.stdout}${r.stderr}`;
    expect(r.error, out).toBeUndefined();
    expect(r.status, out).toBe(0);
    expect(out).toMatch(/demo-ip\s+\(ocf:ocfkit:vip\):\s+Started solo/);
    expect(out).toMatch(/^svc0@svc1\s+UP\s+.*\b192\.0\.2\.50\/24\b/m);
    expect(out).toMatch(/demo-ip 5s-interval monitor on solo returned 'error' \([^\n]*(carrier|link)[^\n]*\)/);
    expect(out).toContain('demo: OK');
  }, 240_000);
});
