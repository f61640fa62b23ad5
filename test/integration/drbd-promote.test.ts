import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseScores, promotionScore } from '../../agents/drbd-promote';
import { PromotionScores, promotionScoreCalls } from '../../lib/cluster';
import { Deadline } from '../../lib/ocf/deadline';
import { run } from '../../lib/run';
import { SCORE_CASES } from '../fixtures/drbd-states';
import { AGENT_DIR, ok, requireSandbox, runAgent, sh } from './netns';

requireSandbox();

const agent = (action: string, params: Record<string, string>, env: Record<string, string> = {}) => runAgent('drbd-promote', action, params, env, { instance: 'drbd-r0:0' });

/** A CIB file with this host as an online node: crm_attribute writes promotion scores into it. */
function cibWithThisNode(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'ocfkit-cib-')), 'cib.xml');
  writeFileSync(file, ok(['cibadmin', '--empty']));
  const env = ['env', `CIB_file=${file}`];
  ok([...env, 'cibadmin', '-C', '-o', 'nodes', '-X', `<node id="1" uname="${hostname()}"/>`]);
  ok([...env, 'cibadmin', '-C', '-o', 'status', '-X', `<node_state id="1" uname="${hostname()}" in_ccm="true" crmd="online" join="member" expected="member"/>`]);
  return file;
}

describe('promotion scores through crm_attribute, as crm_master writes them (CIB file, no cluster)', () => {
  it('each state of the table writes, keeps or removes master-<resource> as the reference would', async () => {
    const file = cibWithThisNode();
    const table = parseScores('0 10 1000 10000')!;
    const deadline = new Deadline(60_000, 'test');
    // An anonymous clone's instance reaches the agent as the primitive's id.
    const runner = (argv: readonly string[], o?: object) => run(argv, { ...o, deadline, env: { CIB_file: file, OCF_RESOURCE_INSTANCE: 'drbd-r0' } });
    const scores = new PromotionScores(runner, promotionScoreCalls('drbd-r0'));
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

/**
 * DRBD 9.2.19 and 8.4.11 as the agent meets them, on a machine without DRBD: /proc/drbd, drbdsetup
 * and drbdadm's state changes come from stand-ins (test/standins/) answering with captured samples
 * byte for byte; drbdadm's configuration commands (sh-minor, dump) are the real drbd-utils 9.22.
 */
describe('drbd-promote on DRBD 9 and 8.4 through stand-ins', () => {
  const standins = join(__dirname, '..', 'standins');
  const samples = join(__dirname, '..', 'samples');
  const node = hostname();
  // Each generation's configuration syntax: drbd-utils reads an 8.4 module's through drbdadm-84.
  const conf: Record<'9' | '8.4', string> = {
    '9': `resource r0 {\n  device /dev/drbd0 minor 0;\n  disk /dev/vda;\n  meta-disk internal;\n  on ${node} { node-id 1; address ipv4 192.0.2.1:7789; }\n  on peer { node-id 0; address ipv4 192.0.2.2:7789; }\n}\n`,
    '8.4': `resource r0 {\n  device /dev/drbd0 minor 0;\n  disk /dev/vda;\n  meta-disk internal;\n  on ${node} { address 192.0.2.1:7789; }\n  on peer { address 192.0.2.2:7789; }\n}\n`,
  };
  /** The configuration with a keyword drbdadm does not know: it does not parse. */
  const unparsable = (version: '9' | '8.4') => conf[version].replace('  meta-disk internal;\n', '  meta-disk internal\n  bogus-keyword 3;\n');
  const proc: Record<'9' | '8.4', string> = { '9': 'drbd9/s01-secondary-connected-node1-proc-drbd.txt', '8.4': 'drbd/lab-84-connected-primary.txt' };

  interface Scenario {
    readonly version: '9' | '8.4';
    /** events2 --now sample (DRBD 9) */
    readonly events2?: string;
    /** /proc/drbd sample; the version's own by default */
    readonly procDrbd?: string;
    /** drbdadm state changes: subcommand → [exit code, stderr] */
    readonly drbdadm?: Record<string, [number, string]>;
    /** drbdsetup state changes: subcommand → [exit code, stderr] */
    readonly drbdsetup?: Partial<Record<'down' | 'secondary', [number, string]>>;
    /** The events2 sample a state change answered 0 leads to: drbdadm subcommand (or drbdsetup-SUB) → sample */
    readonly after?: Record<string, string>;
    /** The 8.4 /proc/drbd sample a drbdsetup state change answered 0 leads to: drbdsetup-SUB → sample */
    readonly procAfter?: Record<string, string>;
    /** events2 hangs, printing nothing */
    readonly events2Hangs?: boolean;
  }

  function scenario(s: Scenario) {
    const dir = mkdtempSync(join(tmpdir(), 'ocfkit-drbd-standin-'));
    mkdirSync(join(dir, 'bin'));
    symlinkSync(join(standins, 'drbdsetup-standin'), join(dir, 'bin', 'drbdsetup'));
    symlinkSync(join(standins, 'drbdadm-standin'), join(dir, 'bin', 'drbdadm'));
    writeFileSync(join(dir, 'drbd.conf'), conf[s.version]);
    if (s.events2) copyFileSync(join(samples, 'drbd9', s.events2), join(dir, 'events2-now.txt'));
    for (const [tool, answers] of [['drbdadm', s.drbdadm], ['drbdsetup', s.drbdsetup]] as const) {
      for (const [sub, [rc, stderr]] of Object.entries(answers ?? {})) {
        writeFileSync(join(dir, `${tool}-${sub}.rc`), `${rc}\n`);
        writeFileSync(join(dir, `${tool}-${sub}.stderr`), stderr);
      }
    }
    for (const [sub, sample] of Object.entries(s.after ?? {})) copyFileSync(join(samples, 'drbd9', sample), join(dir, `events2-now.after-${sub}.txt`));
    for (const [sub, sample] of Object.entries(s.procAfter ?? {})) copyFileSync(join(samples, sample), join(dir, `proc-drbd.after-${sub}.txt`));
    if (s.events2Hangs) writeFileSync(join(dir, 'events2-now.hang'), '');
    const procFile = join(samples, s.procDrbd ?? proc[s.version]);
    const cib = cibWithThisNode();
    return {
      dir,
      run(action: string, params: Record<string, string> = {}, env: Record<string, string> = {}) {
        const vars = [
          `PATH=${dir}/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
          `DRBD_STANDIN_DIR=${dir}`,
          `CIB_file=${cib}`,
          `HA_RSCTMP=${dir}/run`,
          'OCF_ROOT=/usr/lib/ocf',
          'OCF_RESOURCE_INSTANCE=drbd-r0',
          'OCF_RESKEY_CRM_meta_timeout=20000',
          `OCF_RESKEY_drbdconf=${dir}/drbd.conf`,
          ...Object.entries({ drbd_resource: 'r0', ...params }).map(([k, v]) => `OCF_RESKEY_${k}=${v}`),
          ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
        ];
        const r = sh([join(standins, 'proc-drbd-standin'), procFile, 'env', '-i', ...vars, `${AGENT_DIR}/drbd-promote`, action]);
        return { code: r.status, stderr: r.stderr, reason: /^ocf-exit-reason:(.*)$/m.exec(r.stderr)?.[1] };
      },
      calls: () => readFileSync(join(dir, 'calls'), 'utf8'),
      cib,
    };
  }

  // A refused demote as drbdsetup prints it, the cause first. Not captured (no sample of a refused
  // state change exists in test/samples/drbd9): DRBD 9's first line is issue 16's, the kernel's
  // lines have the shape a public DRBD 9 driver's test quotes; 8.4's is the classic drbdsetup-84 one.
  const heldOpen: Record<'9' | '8.4', string> = {
    '9': "r0: State change failed: (-12) Device is held open by someone\nadditional info from kernel:\n/dev/drbd0 open_ro_cnt:0, open_rw_cnt:1; list of openers follows\ndrbd0 opened by sleep (pid 2345) at 2026-12-01 21:55:50.123\nCommand 'drbdsetup secondary r0' terminated with exit code 11\n",
    '8.4': "0: State change failed: (-12) Device is held open by someone\nCommand 'drbdsetup-84 secondary 0' terminated with exit code 11\n",
  };

  // drbdsetup's own lines of the same refusal (drbdadm adds the last, naming the command it ran).
  const heldOpenSetup = (version: '9' | '8.4') => heldOpen[version].replace(/Command '.*\n$/, '');

  it.each(['9', '8.4'] as const)('DRBD %s: a refused demote keeps DRBD\'s cause within the first 128 characters of the reason', (version) => {
    const s = scenario({ version, events2: 's02-primary-connected-node1-events2-now.txt', drbdadm: { secondary: [11, heldOpen[version]] }, drbdsetup: { secondary: [11, heldOpenSetup(version)] } });
    const r = s.run('demote');
    expect(r.code, r.stderr).toBe(1);
    expect(r.reason!.slice(0, 128)).toMatch(/^r0 cannot be demoted: `drbdsetup secondary (r0|0)` exited 11: (r0|0): State change failed: \(-12\) Device is held open by someone/);
    // The same refusal twice is said once.
    expect(r.reason).not.toContain('drbdadm secondary');
    if (version === '9') expect(r.reason).toContain('drbd0 opened by sleep (pid 2345)');
    expect(s.calls()).toMatch(/^drbdadm .*secondary r0$/m);
  });

  it.each(['9', '8.4'] as const)('DRBD %s: a device held open for a moment (udev probing it after the unmount) is demoted once it lets go: demote tries again while DRBD says held open', (version) => {
    const s = scenario({
      version, events2: 's02-primary-connected-node1-events2-now.txt', drbdadm: { secondary: [11, heldOpen[version]] }, drbdsetup: { secondary: [11, heldOpenSetup(version)] },
      after: { 'drbdsetup-secondary': 's01-secondary-connected-node1-events2-now.txt' },
      ...(version === '8.4' ? { procAfter: { 'drbdsetup-secondary': 'drbd/lab-84-connected-secondary.txt' } } : {}),
    });
    writeFileSync(join(s.dir, 'drbdsetup-secondary.then.rc'), '0\n');
    const r = s.run('demote');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/r0 cannot be demoted: `drbdsetup secondary (r0|0)` exited 11: .*held open by someone.*: trying again for up to 10s/);
    expect(s.calls().match(/^drbdsetup secondary /gm)).toHaveLength(2);
  });

  it('DRBD 9: stop of a Primary held open for a moment tries drbdadm secondary again, and takes it down without drbdsetup down', () => {
    const s = scenario({ version: '9', events2: 's02-primary-connected-node1-events2-now.txt', drbdadm: { secondary: [11, heldOpen['9']], down: [0, ''] }, after: { secondary: 's01-secondary-connected-node1-events2-now.txt', down: 's10-down-on-node2-node2-events2-now.txt' } });
    writeFileSync(join(s.dir, 'drbdadm-secondary.then.rc'), '0\n');
    const r = s.run('stop');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('trying again for up to 10s');
    expect(s.calls().match(/^drbdadm .*secondary r0$/gm)).toHaveLength(2);
    expect(s.calls()).not.toMatch(/^drbdsetup down/m);
  });

  const parseError = "drbd.conf:5: Parse error: ';' expected,\n\tbut got 'bogus-keyword' (TK 281)\n";

  it('DRBD 9: a Primary whose drbd.conf does not parse is demoted through drbdsetup secondary by name; a device held open fails the demote, drbdsetup\'s refusal first', () => {
    const broken = (s: { dir: string }) => writeFileSync(join(s.dir, 'drbd.conf'), unparsable('9'));
    const s = scenario({ version: '9', events2: 's02-primary-connected-node1-events2-now.txt', drbdadm: { secondary: [10, parseError] }, drbdsetup: { secondary: [0, ''] }, after: { 'drbdsetup-secondary': 's01-secondary-connected-node1-events2-now.txt' } });
    broken(s);
    const r = s.run('demote');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/r0: drbdadm could not demote it \(`drbdadm secondary r0` exited 10: .*Parse error.*\); drbdsetup secondary did/);
    expect(s.calls()).toMatch(/^drbdsetup secondary r0$/m);
    expect(s.calls()).not.toMatch(/down/);
    const held = scenario({ version: '9', events2: 's02-primary-connected-node1-events2-now.txt', drbdadm: { secondary: [10, parseError] }, drbdsetup: { secondary: [11, heldOpenSetup('9')] } });
    broken(held);
    const f = held.run('demote');
    expect(f.code, f.stderr).toBe(1);
    expect(f.reason).toMatch(/^r0 cannot be demoted: `drbdsetup secondary r0` exited 11: r0: State change failed: \(-12\) Device is held open by someone.*; before it `drbdadm secondary r0` exited 10: .*Parse error/);
  });

  it('DRBD 9: demote of a resource that is down is 7, running nothing', () => {
    const s = scenario({ version: '9', events2: 's10-down-on-node2-node2-events2-now.txt' });
    const r = s.run('demote');
    expect(r.code, r.stderr).toBe(7);
    expect(s.calls()).not.toMatch(/secondary/);
  });

  it('DRBD 8.4: drbdadm secondary failing falls back to drbdsetup secondary by minor; a drbd.conf that does not parse leaves the minors unknown and fails the demote, demoting nothing', () => {
    const s = scenario({ version: '8.4', drbdadm: { secondary: [10, parseError] }, drbdsetup: { secondary: [0, ''] }, procAfter: { 'drbdsetup-secondary': 'drbd/lab-84-connected-secondary.txt' } });
    const r = s.run('demote');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('drbdsetup secondary did');
    expect(s.calls()).toMatch(/^drbdsetup secondary 0$/m);
    expect(s.calls()).not.toContain('drbdsetup secondary r0');
    const unmapped = scenario({ version: '8.4', drbdsetup: { secondary: [0, ''] } });
    writeFileSync(join(unmapped.dir, 'drbd.conf'), unparsable('8.4'));
    const f = unmapped.run('demote');
    expect(f.code, f.stderr).toBe(1);
    expect(f.reason).toMatch(/^cannot tell whether r0 is up: the DRBD configuration could not be read/);
    expect(unmapped.calls()).not.toContain('drbdsetup');
  });

  it('DRBD 8.4: monitors reuse the minors start read until a configuration file changes; promote reads them afresh', () => {
    const s = scenario({ version: '8.4', drbdadm: { up: [0, ''], adjust: [0, ''] } });
    const shMinors = () => s.calls().split('\n').filter((l) => / sh-minor r0$/.test(l)).length;
    expect(s.run('monitor').code).toBe(8);
    expect(shMinors()).toBe(1);
    for (let i = 0; i < 3; i++) expect(s.run('monitor').code).toBe(8);
    expect(shMinors()).toBe(1);
    expect(readdirSync(join(s.dir, 'run', 'ocfkit'))).toContain('drbd-minors-r0.json');
    // The resource moved to minor 1 in the file: the next monitor asks drbdadm, and reads minor 1
    // (which the sample's /proc/drbd does not have: stopped).
    writeFileSync(join(s.dir, 'drbd.conf'), conf['8.4'].replace('/dev/drbd0 minor 0', '/dev/drbd1 minor 1'));
    expect(s.run('monitor').code).toBe(7);
    expect(shMinors()).toBe(2);
    expect(s.run('monitor').code).toBe(7);
    expect(shMinors(), s.calls()).toBe(2);
    s.run('promote');
    expect(shMinors()).toBe(3);
  });

  it.each(['9', '8.4'] as const)('DRBD %s: a resource missing from the configuration: validate-all and start 5 naming the file, probe 7, stop 0', (version) => {
    // 8.4 cannot tell from /proc/drbd which resource minor 0 belongs to: stop asks drbdsetup down.
    const s = scenario({ version, events2: 's10-down-on-node2-node2-events2-now.txt', drbdsetup: { down: [0, ''] } });
    const p = { drbd_resource: 'r9' };
    for (const [action, env] of [['validate-all', { OCF_CHECK_LEVEL: '10' }], ['start', {}]] as const) {
      const r = s.run(action, p, env);
      expect(r.code, `${action}: ${r.stderr}`).toBe(5);
      expect(r.reason).toBe(`resource r9 is not configured on this node in ${s.dir}/drbd.conf: \`drbdadm sh-minor r9\` exited 1: 'r9' not defined in your config (for this host).`);
    }
    expect(s.run('monitor', p).code).toBe(7);
    expect(s.run('stop', p).code).toBe(0);
    // Nothing was brought up or torn down for a resource this node does not have.
    expect(s.calls()).not.toMatch(/drbdadm .*\b(up|down|adjust) r9/);
    expect(s.calls().includes('drbdsetup down r9'), s.calls()).toBe(version === '8.4');
  });

  // What drbdsetup says when a Primary's device is open (the first line of DRBD 9's refused demote above).
  const downRefused: [number, string] = [11, 'r0: State change failed: (-12) Device is held open by someone\n'];

  it('DRBD 9: events2 hanging: a probe is an error (not 7); stop succeeds only on drbdsetup down\'s 0', () => {
    const s = scenario({ version: '9', events2: 's02-primary-connected-node1-events2-now.txt', events2Hangs: true, drbdsetup: { down: downRefused } });
    const probe = s.run('monitor');
    expect(probe.code, probe.stderr).toBe(1);
    expect(probe.reason).toMatch(/drbdsetup events2 .*did not finish|timed out|within/);
    const refused = s.run('stop');
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.reason).toMatch(/^the state of r0 could not be read \(.*\); `drbdsetup down r0` did not take it down: .*exited 11: r0: State change failed: \(-12\) Device is held open/);
    writeFileSync(join(s.dir, 'drbdsetup-down.rc'), '0\n');
    writeFileSync(join(s.dir, 'drbdsetup-down.stderr'), '');
    const down = s.run('stop');
    expect(down.code, down.stderr).toBe(0);
    expect(down.stderr).toContain('drbdsetup down r0 answered 0: it is down');
    // Three 10 s events2 timeouts: beside the lab on two cores they took 87 s.
  }, 240_000);

  it('DRBD 8.4: a drbd.conf that does not parse (the running resource unmapped): probe 1 naming drbdadm\'s parse error, stop only through drbdsetup down', () => {
    const s = scenario({ version: '8.4', drbdsetup: { down: downRefused } });
    writeFileSync(join(s.dir, 'drbd.conf'), unparsable('8.4'));
    const probe = s.run('monitor');
    expect(probe.code, probe.stderr).toBe(1);
    expect(probe.reason).toMatch(/^cannot tell whether r0 is up: the DRBD configuration could not be read, .*drbd\.conf: `drbdadm sh-minor r0` exited 10: .*Parse error/);
    expect(s.run('stop').code).toBe(1);
    writeFileSync(join(s.dir, 'drbdsetup-down.rc'), '0\n');
    expect(s.run('stop').code).toBe(0);
    expect(s.calls()).not.toMatch(/drbdadm .* down r0/);
  });

  it.each(['9', '8.4'] as const)('DRBD %s: a configuration that names the resource for other hosts only, or no resources: probe 7 (not here), not "cannot tell"', (version) => {
    const s = scenario({ version, events2: 's10-down-on-node2-node2-events2-now.txt', drbdsetup: { down: [0, ''] } });
    writeFileSync(join(s.dir, 'drbd.conf'), conf[version].replace(`on ${node} {`, 'on some-other-host {'));
    const probe = s.run('monitor');
    expect(probe.code, probe.stderr).toBe(7);
    writeFileSync(join(s.dir, 'drbd.conf'), '# nothing here yet\n');
    expect(s.run('monitor').code).toBe(7);
    expect(s.run('stop').code).toBe(0);
  });

  it('DRBD 8.4: no configuration file at all while a minor is up: probe 1 (it could be this resource), not 7', () => {
    const s = scenario({ version: '8.4', drbdsetup: { down: [0, ''] } });
    const probe = s.run('monitor', { drbdconf: join(s.dir, 'missing.conf') });
    expect(probe.code, probe.stderr).toBe(1);
    expect(probe.reason).toMatch(/^cannot tell whether r0 is up: the DRBD configuration could not be read, .*missing\.conf: .*Can not open/);
  });

  it('DRBD 9: a Primary whose drbd.conf does not parse: stop demotes and takes it down through drbdsetup (and fails where drbdsetup refuses)', () => {
    const s = scenario({ version: '9', events2: 's02-primary-connected-node1-events2-now.txt', drbdadm: { secondary: [10, parseError], down: [10, parseError] }, drbdsetup: { down: [0, ''] }, after: { 'drbdsetup-down': 's10-down-on-node2-node2-events2-now.txt' } });
    const r = s.run('stop');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/r0 cannot be stopped, still Primary: `drbdadm secondary r0` exited 10: .*Parse error.*; drbdsetup down r0 answered 0: it is down/);
    const held = scenario({ version: '9', events2: 's02-primary-connected-node1-events2-now.txt', drbdadm: { secondary: [10, parseError] }, drbdsetup: { down: downRefused } });
    const f = held.run('stop');
    expect(f.code, f.stderr).toBe(1);
    expect(f.reason).toMatch(/^r0 cannot be stopped, still Primary: .*; `drbdsetup down r0` did not take it down: .*Device is held open/);
  });

  it('DRBD 9: drbdadm down failing on a configuration that does not parse falls back to drbdsetup down', () => {
    const s = scenario({ version: '9', events2: 's01-secondary-connected-node1-events2-now.txt', drbdadm: { down: [10, parseError] }, drbdsetup: { down: [0, ''] }, after: { 'drbdsetup-down': 's10-down-on-node2-node2-events2-now.txt' } });
    const r = s.run('stop');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/r0 is still up after drbdadm down: `drbdadm down r0` exited 10: .*Parse error.*; drbdsetup down r0 answered 0/);
    const refused = scenario({ version: '9', events2: 's01-secondary-connected-node1-events2-now.txt', drbdadm: { down: [10, parseError] }, drbdsetup: { down: downRefused } });
    expect(refused.run('stop').code).toBe(1);
  });

  it('DRBD 9 and 8.4: a stop with parameters that no longer validate returns 0 only when drbdsetup down does', () => {
    for (const version of ['9', '8.4'] as const) {
      const s = scenario({ version, events2: 's01-secondary-connected-node1-events2-now.txt', drbdsetup: { down: downRefused } });
      const r = s.run('stop', { wfc_timeout: 'forever' });
      expect(r.code, r.stderr).toBe(1);
      expect(r.reason).toMatch(/^stop with invalid parameters \(.*wfc_timeout.*\); `drbdsetup down r0` did not take it down/);
      writeFileSync(join(s.dir, 'drbdsetup-down.rc'), '0\n');
      expect(s.run('stop', { wfc_timeout: 'forever' }).code).toBe(0);
      // A name DRBD would refuse cannot be up.
      expect(s.run('stop', { drbd_resource: 'r0;reboot' }).code).toBe(0);
      expect(s.calls()).not.toContain('r0;reboot');
    }
  });

  it('DRBD 9: start fails when the backing disk did not attach, after a second attempt', () => {
    const s = scenario({ version: '9', events2: 's09-diskless-detached-node2-events2-now.txt', drbdadm: { adjust: [0, ''] } });
    const r = s.run('start', {}, { OCF_RESKEY_CRM_meta_notify: 'true' });
    expect(r.code, r.stderr).toBe(1);
    expect(r.reason).toMatch(/^r0: the backing disk of volume 0 did not attach/);
    expect(s.calls().split('\n').filter((l) => / adjust r0$/.test(l))).toHaveLength(2);
  });

  it('DRBD 9: stop_outdates_secondary outdates only for another node that stays Primary', () => {
    const self = hostname();
    const cases: Array<[Record<string, string>, boolean]> = [
      [{ OCF_RESKEY_CRM_meta_notify_promoted_uname: self }, false],
      [{ OCF_RESKEY_CRM_meta_notify_promoted_uname: 'node1', OCF_RESKEY_CRM_meta_notify_stop_uname: `${self} node1` }, false],
      [{ OCF_RESKEY_CRM_meta_notify_master_uname: `node1 ${self}`, OCF_RESKEY_CRM_meta_notify_stop_uname: self }, true],
      [{ OCF_RESKEY_CRM_meta_notify_promoted_uname: 'node1', OCF_RESKEY_CRM_meta_on_node: 'node1' }, false],
    ];
    for (const [env, outdated] of cases) {
      const s = scenario({ version: '9', events2: 's02-primary-connected-node2-events2-now.txt', drbdadm: { down: [0, ''], outdate: [0, ''] }, after: { down: 's10-down-on-node2-node2-events2-now.txt' } });
      const r = s.run('stop', { stop_outdates_secondary: 'true' }, env);
      expect(r.code, r.stderr).toBe(0);
      expect(s.calls().includes('outdate r0'), JSON.stringify(env)).toBe(outdated);
    }
  });

  it('DRBD 9: promote and demote record the roles at once for `ocfkit site`, not at the next monitor', () => {
    const s = scenario({ version: '9', events2: 's01-secondary-connected-node1-events2-now.txt', drbdadm: { primary: [0, ''], secondary: [0, ''] }, after: { primary: 's02-primary-connected-node1-events2-now.txt' } });
    const record = () => JSON.parse(readFileSync(join(s.dir, 'peers', 'r0.peer.json'), 'utf8')).peers.node2;
    const p = { peer_state_dir: join(s.dir, 'peers') };
    expect(s.run('promote', p).code).toBe(0);
    expect(record()).toMatchObject({ connection: 'Connected', localRole: 'Primary', peerRole: 'Secondary' });
    copyFileSync(join(samples, 'drbd9', 's01-secondary-connected-node1-events2-now.txt'), join(s.dir, 'events2-now.after-secondary.txt'));
    expect(s.run('demote', p).code).toBe(0);
    expect(record()).toMatchObject({ localRole: 'Secondary' });
  });

  it('DRBD 9: a Primary whose I/O is suspended says so in the monitor\'s reason', () => {
    const s = scenario({ version: '9', events2: 's11b-quorum-lost-suspend-io-node1-events2-now.txt' });
    const r = s.run('monitor', {}, { OCF_RESKEY_CRM_meta_interval: '10000' });
    expect(r.code, r.stderr).toBe(8);
    expect(r.reason).toMatch(/^I\/O on r0 is suspended: quorum is lost \(on-no-quorum suspend-io\); writes wait until DRBD resumes it; replication link of r0 is down \(Connecting\)/);
  });

  it('DRBD 9: a resource in the configuration but down is simply stopped (probe 7), and validate-all warns about auto-promote', () => {
    const s = scenario({ version: '9', events2: 's10-down-on-node2-node2-events2-now.txt' });
    expect(s.run('monitor').code).toBe(7);
    const v = s.run('validate-all', {}, { OCF_CHECK_LEVEL: '10' });
    expect(v.code, v.stderr).toBe(0);
    expect(v.stderr).toMatch(/WARNING: validate-all: DRBD r0 has auto-promote yes \(the DRBD 9 default\): .* set options \{ auto-promote no; \}/);
    const quiet = scenario({ version: '9', events2: 's10-down-on-node2-node2-events2-now.txt' });
    writeFileSync(join(quiet.dir, 'drbd.conf'), conf['9'].replace('  meta-disk internal;\n', '  meta-disk internal;\n  options { auto-promote no; }\n'));
    const q = quiet.run('validate-all', {}, { OCF_CHECK_LEVEL: '10' });
    expect(q.code, q.stderr).toBe(0);
    expect(q.stderr).not.toContain('auto-promote');
  });

  it('DRBD 9: a recurring monitor rewrites an unchanged score only every SCORE_REFRESH_MS, a probe always; a peer that left does not lower a positive score in the post-notifications (no transition abort); the monitor does, and losing promotability is written at once', () => {
    const s = scenario({ version: '9', events2: 's01-secondary-connected-node2-events2-now.txt' });
    const score = () => /<nvpair [^>]*name="master-drbd-r0" value="(-?\d+)"/.exec(readFileSync(s.cib, 'utf8'))?.[1];
    const post = (op: string) => s.run('notify', {}, { OCF_RESKEY_CRM_meta_notify_type: 'post', OCF_RESKEY_CRM_meta_notify_operation: op, HA_debug: '1' });
    expect(s.run('monitor', {}, { OCF_RESKEY_CRM_meta_interval: '20000' }).code).toBe(0);
    expect(score()).toBe('10000');
    // The same score at the next recurring monitor: no crm_attribute (until SCORE_REFRESH_MS). An
    // attribute lost behind its back stays lost until then; a probe (Pacemaker restarted) writes it.
    const again = s.run('monitor', {}, { OCF_RESKEY_CRM_meta_interval: '20000', HA_debug: '1' });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/promotion score: 10000 \(.*\) not written: unchanged/);
    writeFileSync(s.cib, readFileSync(s.cib, 'utf8').replace(/<nvpair [^>]*name="master-drbd-r0"[^>]*\/>/, ''));
    expect(score()).toBeUndefined();
    expect(s.run('monitor', {}, { OCF_RESKEY_CRM_meta_interval: '20000' }).code).toBe(0);
    expect(score()).toBeUndefined();
    expect(s.run('monitor').code).toBe(0);
    expect(score()).toBe('10000');
    // The peer is gone (Connecting, peer disk unknown): the table says 1000.
    copyFileSync(join(samples, 'drbd9', 's05-link-down-primary-node2-events2-now.txt'), join(s.dir, 'events2-now.txt'));
    for (const op of ['demote', 'stop']) {
      const r = post(op);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain('promotion score: 1000 (UpToDate, peer disk state unknown) not written: set 10000 stays until the next monitor');
      expect(score()).toBe('10000');
    }
    expect(s.run('monitor', {}, { OCF_RESKEY_CRM_meta_interval: '20000' }).code).toBe(0);
    expect(score()).toBe('1000');
    // The same score again in a notification: no crm_attribute call.
    expect(post('start').stderr).toContain('promotion score: 1000 (UpToDate, peer disk state unknown) not written: unchanged');
    // No UpToDate data left here: written by the notification itself.
    copyFileSync(join(samples, 'drbd9', 's00-inconsistent-connected-node2-events2-now.txt'), join(s.dir, 'events2-now.txt'));
    expect(post('stop').code).toBe(0);
    expect(score()).toBeUndefined();
    expect(readdirSync(join(s.dir, 'run', 'ocfkit')).filter((f) => f.endsWith('.score'))).toHaveLength(1);
    // Stop forgets what was written, so the first notification after the next start writes again.
    copyFileSync(join(samples, 'drbd9', 's10-down-on-node2-node2-events2-now.txt'), join(s.dir, 'events2-now.txt'));
    expect(s.run('stop').code).toBe(0);
    expect(readdirSync(join(s.dir, 'run', 'ocfkit')).filter((f) => f.endsWith('.score'))).toHaveLength(0);
    // Twenty agent runs, each starting crm_attribute: 21 s alone, 165 s beside two labs.
  }, 300_000);

  it('DRBD 9: a degraded Primary returns 8 with the reason on every monitor, logs the warning once, and never an ERROR', () => {
    const s = scenario({ version: '9', events2: 's05-link-down-primary-node1-events2-now.txt' });
    const runs = [1, 2, 3].map(() => s.run('monitor', {}, { OCF_RESKEY_CRM_meta_interval: '10000' }));
    for (const r of runs) {
      expect(r.code, r.stderr).toBe(8);
      expect(r.reason).toContain('replication link of r0 is down (Connecting)');
      expect(r.stderr).not.toContain('ERROR');
    }
    expect(runs.map((r) => (r.stderr.match(/WARNING: monitor: replication link of r0 is down/g) ?? []).length)).toEqual([1, 0, 0]);
    // The link back: said once, and the next problem is news again.
    copyFileSync(join(samples, 'drbd9', 's02-primary-connected-node1-events2-now.txt'), join(s.dir, 'events2-now.txt'));
    const healed = s.run('monitor', {}, { OCF_RESKEY_CRM_meta_interval: '10000' });
    expect(healed.code).toBe(8);
    expect(healed.stderr).toContain('INFO: monitor: replication healthy again');
    expect(s.run('monitor', {}, { OCF_RESKEY_CRM_meta_interval: '10000' }).stderr).not.toContain('replication');
  });
});
