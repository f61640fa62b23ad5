import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseScores, promotionScore } from '../../agents/drbd-promote';
import { PromotionScores, crmAttribute } from '../../lib/cluster';
import { Deadline } from '../../lib/ocf/deadline';
import { run } from '../../lib/run';
import { SCORE_CASES } from '../fixtures/drbd-states';
import { ok, requireSandbox, runAgent, sh } from './netns';

requireSandbox();

const agent = (action: string, params: Record<string, string>, env: Record<string, string> = {}) => runAgent('drbd-promote', action, params, env, { instance: 'drbd-r0:0' });

/** A CIB file with this host as an online node: crm_attribute --promotion writes into it. */
function cibWithThisNode(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'ocfkit-cib-')), 'cib.xml');
  writeFileSync(file, ok(['cibadmin', '--empty']));
  const env = ['env', `CIB_file=${file}`];
  ok([...env, 'cibadmin', '-C', '-o', 'nodes', '-X', `<node id="1" uname="${hostname()}"/>`]);
  ok([...env, 'cibadmin', '-C', '-o', 'status', '-X', `<node_state id="1" uname="${hostname()}" in_ccm="true" crmd="online" join="member" expected="member"/>`]);
  return file;
}

describe('promotion scores through crm_attribute --promotion (CIB file, no cluster)', () => {
  it('each state of the table writes, keeps or removes master-<resource> as the reference would', async () => {
    const file = cibWithThisNode();
    const table = parseScores('0 10 1000 10000')!;
    const deadline = new Deadline(60_000, 'test');
    // An anonymous clone's instance reaches the agent as the primitive's id.
    const runner = (argv: readonly string[], o?: object) => run(argv, { ...o, deadline, env: { CIB_file: file, OCF_RESOURCE_INSTANCE: 'drbd-r0' } });
    const scores = new PromotionScores(runner, crmAttribute);
    let current: number | undefined;
    for (const [name, state, want] of SCORE_CASES) {
      // A "keep" row must leave what the previous row wrote: start each from a known 77.
      await scores.set(77);
      const d = promotionScore(state, table);
      if (d.kind === 'set') await scores.set(d.score);
      else if (d.kind === 'remove') await scores.remove();
      current = await scores.get();
      const inFile = /<nvpair [^>]*name="master-drbd-r0" value="(-?\d+)"/.exec(readFileSync(file, 'utf8'))?.[1];
      const expected = want === 'remove' ? undefined : want === 'keep' ? 77 : want;
      expect(current, name).toBe(expected);
      expect(inFile === undefined ? undefined : Number(inFile), name).toBe(expected);
    }
  });
});

describe('drbd-promote on a node without DRBD', () => {
  const p = { drbd_resource: 'r0' };

  it('pcs accepts it as a promotable clone without --force, with role-specific monitors', () => {
    const cib = join(mkdtempSync(join(tmpdir(), 'ocfkit-pcs-')), 'cib.xml');
    writeFileSync(cib, ok(['cibadmin', '--empty']));
    ok(['pcs', '-f', cib, 'property', 'set', 'stonith-enabled=false']);
    const r = sh(['pcs', '-f', cib, 'resource', 'create', 'drbd-r0', 'ocf:ocfkit:drbd-promote', 'drbd_resource=r0', 'promotable', 'promoted-max=1', 'promoted-node-max=1', 'clone-max=2', 'clone-node-max=1', 'notify=true']);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.status).toBe(0);
    const xml = readFileSync(cib, 'utf8');
    expect(xml).toMatch(/<op name="monitor" interval="10s" timeout="20s" role="Promoted"/);
    expect(xml).toMatch(/<op name="monitor" interval="20s" timeout="20s" role="Unpromoted"/);
    expect(sh(['crm_verify', '-x', cib]).status).toBe(0);
  });

  it('probe 7, stop 0, start 5 (no module), notify 0 even with no notify variables', () => {
    expect(agent('monitor', p).code).toBe(7);
    expect(agent('stop', p).code).toBe(0);
    const s = agent('start', p);
    expect(s.code).toBe(5);
    expect(s.reason).toContain('DRBD kernel module is not available');
    expect(agent('notify', p).code).toBe(0);
    expect(agent('notify', p, { OCF_RESKEY_CRM_meta_notify_type: 'post', OCF_RESKEY_CRM_meta_notify_operation: 'start' }).code).toBe(0);
  });

  const table: Array<[string, Record<string, string>, RegExp]> = [
    ['resource name missing', { drbd_resource: '' }, /drbd_resource is required/],
    ['resource name with ;', { drbd_resource: 'r0;reboot' }, /characters DRBD does not allow/],
    ['resource name with $()', { drbd_resource: '$(id)' }, /characters DRBD does not allow/],
    ['resource name with space', { drbd_resource: 'r 0' }, /characters DRBD does not allow/],
    ['drbdconf relative', { drbd_resource: 'r0', drbdconf: 'drbd.conf' }, /not an absolute path/],
    ['drbdconf metacharacters', { drbd_resource: 'r0', drbdconf: '/etc/drbd.conf`id`' }, /not an absolute path/],
    ['scores: three', { drbd_resource: 'r0', adjust_master_score: '0 10 1000' }, /four non-decreasing integers/],
    ['scores: decreasing', { drbd_resource: 'r0', adjust_master_score: '0 1000 10 10000' }, /four non-decreasing integers/],
    ['scores: words', { drbd_resource: 'r0', adjust_master_score: 'zero ten hundred thousand' }, /four non-decreasing integers/],
    ['wfc_timeout negative', { drbd_resource: 'r0', wfc_timeout: '-5' }, /below the minimum/],
    ['wfc_timeout word', { drbd_resource: 'r0', wfc_timeout: 'forever' }, /is not an integer/],
    ['peer_primary mode unknown', { drbd_resource: 'r0', remove_master_score_if_peer_primary: 'sometimes' }, /is not one of false, true, unexpected/],
    ['module version malformed', { drbd_resource: 'r0', require_drbd_module_version_ge: '8.4' }, /not a version x\.y\.z/],
    ['module version injection', { drbd_resource: 'r0', require_drbd_module_version_lt: '10.0.0;id' }, /not a version x\.y\.z/],
    ['boolean garbage', { drbd_resource: 'r0', stop_outdates_secondary: 'perhaps' }, /is not a boolean/],
  ];
  it.each(table.map(([name, params, reason]) => ({ name, params, reason })))('$name → exit 6', ({ params, reason }) => {
    for (const action of ['validate-all', 'start', 'promote']) {
      const r = agent(action, params);
      expect(r.code, `${action}: ${r.stderr}`).toBe(6);
      expect(r.reason).toMatch(reason);
    }
    expect(agent('stop', params).code).toBe(0);
  });

  it('clone meta attributes: more than one instance per node or promoted-max > 2 is a configuration error', () => {
    expect(agent('start', p, { OCF_RESKEY_CRM_meta_clone_node_max: '2' }).reason).toContain('clone-node-max must be 1');
    expect(agent('start', p, { OCF_RESKEY_CRM_meta_promoted_max: '3' }).code).toBe(6);
    expect(agent('start', p, { OCF_RESKEY_CRM_meta_master_node_max: '2' }).code).toBe(6);
  });
});
