/**
 * `ocfkit stack apply --live` removes what an earlier apply made and the plan no longer names, on a
 * real one-node cluster: a resource that runs is stopped first and removed once Pacemaker reports
 * it stopped; the constraints naming a removed resource go with it; the operator's objects stay.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requireSandbox } from './netns';
import { constraintResources } from '../../commands/stack/ownership';
import { parseCrmMon } from '../../lib/cluster';
import { type XmlElement, parseXml } from '../../lib/xml';

requireSandbox();
const bin = join(__dirname, '..', '..', 'dist', 'ocfkit');
const solo = join(__dirname, '..', '..', 'scripts', 'cluster', 'solo.sh');

describe('ocfkit stack apply --live: what the plan no longer names', () => {
  it('fencing dropped and the application dropped: the running fence devices stopped, then removed; the application and its constraints removed; again: nothing', () => {
    const state = mkdtempSync(join(tmpdir(), 'ocfkit-apply-remove-'));
    // The plan without fencing is applied four times (dry run, refused, applied, again): its pcs steps run once.
    const env = { ...process.env, SOLO_NS: 'ocfkit-remove', SOLO_NODE: 'solo', OCFKIT_TEST_PLAN_CACHE: mkdtempSync(join(tmpdir(), 'ocfkit-plan-cache-')) };
    const inNode = (argv: string[]) => spawnSync('bash', [solo, 'exec', state, ...argv], { encoding: 'utf8', env, timeout: 600_000 });
    const conf = (): XmlElement => {
      const q = inNode(['cibadmin', '--query', '--scope', 'configuration']);
      expect(q.status, q.stderr).toBe(0);
      return parseXml(q.stdout);
    };
    const section = (c: XmlElement, name: string) => c.children.find((x) => x.name === name)?.children ?? [];
    const running = () => parseCrmMon(inNode(['crm_mon', '-1', '--output-as=xml', '--inactive']).stdout).filter((p) => p.nodes.length > 0).map((p) => p.resource);
    const up = spawnSync('bash', [solo, 'up', state], { encoding: 'utf8', env, timeout: 120_000 });
    try {
      expect(up.status, `${up.stdout}${up.stderr}`).toBe(0);
      // The operator's own resource and a constraint of theirs on a resource of the plan.
      expect(inNode(['cibadmin', '--create', '--scope', 'resources', '--xml-text', '<primitive id="operators-own" class="ocf" provider="pacemaker" type="Dummy"/>']).status).toBe(0);
      const base = ['--nodes', 'solo,ghost', '--drbd-resource', 'r0', '--device', '/dev/drbd0', '--directory', '/srv/nfs', '--fstype', 'ext4', '--ip', '192.0.2.60/24', '--nic', 'svc0', '--clients', '192.0.2.0/24'];
      const full = [...base, '--fencing', 'fence_dummy', '--fence-option', 'type=file', '--application', 'ocf:pacemaker:Dummy'];
      const a = inNode([bin, 'stack', 'apply', '--live', ...full]);
      expect(a.status, `${a.stdout}${a.stderr}`).toBe(0);
      expect(inNode(['pcs', 'constraint', 'location', 'nfs-app', 'prefers', 'solo=10']).status).toBe(0);
      expect(inNode(['pcs', 'constraint', 'location', 'operators-own', 'prefers', 'solo=10']).status).toBe(0);
      // The fence devices start (nothing else of the stack can: no DRBD here).
      for (let i = 0; i < 60 && !running().includes('fence-solo'); i++) spawnSync('sleep', ['1']);
      expect(running()).toContain('fence-solo');

      const dry = inNode([bin, 'stack', 'apply', '--live', '--dry-run', ...base, '--fencing', 'none']);
      expect(dry.status, `${dry.stdout}${dry.stderr}`).toBe(0);
      expect(dry.stdout).toMatch(/^stop {3}resource fence-solo$/m);
      expect(dry.stdout).toMatch(/^remove resource nfs-app$/m);
      expect(dry.stdout).toMatch(/^dry run: nothing applied .*fence-solo.* would be stopped, then removed/m);
      expect(section(conf(), 'resources').map((r) => r.attrs.id)).toContain('fence-solo');

      // Unmanaged, it would never be stopped by Pacemaker: refused before anything changes.
      expect(inNode(['crm_resource', '--resource', 'fence-solo', '--meta', '--set-parameter', 'is-managed', '--parameter-value', 'false']).status).toBe(0);
      const held = inNode([bin, 'stack', 'apply', '--live', ...base, '--fencing', 'none']);
      expect(held.status).not.toBe(0);
      expect(held.stderr).toMatch(/nothing applied: fence-solo would be removed, but runs unmanaged/);
      expect(section(conf(), 'resources').map((r) => r.attrs.id)).toContain('nfs-app');
      expect(inNode(['crm_resource', '--resource', 'fence-solo', '--meta', '--delete-parameter', 'is-managed']).status).toBe(0);

      const b = inNode([bin, 'stack', 'apply', '--live', ...base, '--fencing', 'none']);
      expect(b.status, `${b.stdout}${b.stderr}`).toBe(0);
      // Two changes: the stop (with the application's removal, which does not run), then the removal.
      expect(b.stdout).toMatch(/^stop {3}resource fence-solo$[\s\S]*^applied: [\s\S]*^stopped: .*fence-solo[\s\S]*^remove resource fence-solo$[\s\S]*^applied: /m);
      const after = conf();
      const ids = section(after, 'resources').map((r) => r.attrs.id);
      expect(ids).not.toContain('fence-solo');
      expect(ids).not.toContain('fence-ghost');
      expect(ids).not.toContain('nfs-app');
      for (const kept of ['operators-own', 'nfs-drbd-clone', 'nfs-fs', 'nfs-export', 'nfs-ip']) expect(ids).toContain(kept);
      const constraints = section(after, 'constraints');
      expect(constraints.filter((c) => constraintResources(c).includes('nfs-app'))).toEqual([]);
      expect(constraints.filter((c) => constraintResources(c).includes('operators-own'))).toHaveLength(1);
      expect(constraints.filter((c) => /^rsc_(order|colocation)$/.test(c.name))).toHaveLength(6);

      const again = inNode([bin, 'stack', 'apply', '--live', ...base, '--fencing', 'none']);
      expect(again.status, `${again.stdout}${again.stderr}`).toBe(0);
      expect(again.stdout).toMatch(/^unchanged: /m);
    } finally {
      const down = spawnSync('bash', [solo, 'down', state], { encoding: 'utf8', env, timeout: 120_000 });
      expect(down.status, `${down.stdout}${down.stderr}`).toBe(0);
    }
  }, 900_000);
});
