/**
 * `ocfkit site` against real Pacemaker tools on CIB files (crm_ticket, cibadmin, crm_mon,
 * crm_simulate standing in for the cluster's reaction), with DRBD from captured DRBD 9 output: this
 * kernel has no DRBD, so drbdsetup is test/standins/drbdsetup-standin, which prints the samples.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../commands/site/decide';
import { handover } from '../../commands/site/handover';
import { siteStates } from '../../commands/site/state';
import type { SiteCtx } from '../../commands/site/steps';
import { rejoin } from '../../commands/site/rejoin';
import { salvage, salvageDone } from '../../commands/site/salvage';
import { readSalvageRecord } from '../../commands/site/salvage-record';
import { takeover } from '../../commands/site/takeover';
import { parseDeployment, stackOf } from '../../commands/stack/model';
import { parseEvents2 } from '../../lib/drbd';
import { nextPeerRecord, readPeerRecord, withLinkWent, writePeerRecord } from '../../lib/drbd-peer';
import { Deadline } from '../../lib/ocf/deadline';
import { run } from '../../lib/run';
import { Scratch } from './loopfs';
import { requireSandbox, sh } from './netns';

requireSandbox();
const bin = join(__dirname, '..', '..', 'dist', 'ocfkit');
const samples = join(__dirname, '..', 'samples', 'drbd9');
const work = mkdtempSync(join(tmpdir(), 'ocfkit-sitecmd-'));
const standins = join(work, 'bin');
mkdirSync(standins);
symlinkSync(join(__dirname, '..', 'standins', 'drbdsetup-standin'), join(standins, 'drbdsetup'));

const raw = {
  sites: { a: { nodes: ['node1'], fencing: 'none' }, b: { nodes: ['node2'], fencing: 'none' } },
  services: [{ name: 'nfs', drbd_resource: 'r0', device: '/dev/drbd0', directory: '/srv/nfs', fstype: 'xfs', ip: '192.0.2.10/24', clients: ['192.0.2.0/24'] }],
};
const cfg = join(work, 'sites.json');
writeFileSync(cfg, JSON.stringify(raw));
const stackB = stackOf(parseDeployment(raw), 'b');
const banner = readFileSync(join(samples, 's01-secondary-connected-node1-proc-drbd.txt'), 'utf8');

let standbyBase: string | undefined;
/**
 * Site b's CIB (one node, node2) settled with DRBD Unpromoted: the standby site. Built once (a plan
 * is a dozen pcs calls, then three Pacemaker tools); each caller gets its own copy as NAME.
 */
function standbyCib(name: string): string {
  standbyBase ??= buildStandbyCib('standby-base');
  const copy = join(work, `${name}-steady.xml`);
  copyFileSync(standbyBase, copy);
  return copy;
}

function buildStandbyCib(name: string): string {
  const cib = join(work, `${name}.xml`);
  const a = sh([bin, 'stack', 'apply', '--config', cfg, '--site', 'b', '--cib', cib]);
  if (a.status !== 0) throw new Error(a.stderr);
  const env = ['env', `CIB_file=${cib}`];
  sh([...env, 'cibadmin', '-C', '-o', 'nodes', '-X', '<node id="2" uname="node2"/>']);
  const up = join(work, `${name}-up.xml`);
  expect(sh(['crm_simulate', '-x', cib, '-S', '--quorum=true', '--node-up', 'node2', '-O', up]).status).toBe(0);
  expect(sh(['env', `CIB_file=${up}`, 'crm_attribute', '-N', 'node2', '-l', 'reboot', '-n', 'master-nfs-drbd', '-v', '1000']).status).toBe(0);
  const steady = join(work, `${name}-steady.xml`);
  expect(sh(['crm_simulate', '-x', up, '-S', '-O', steady]).status).toBe(0);
  return steady;
}

function ctx(cib: string, state: string, stateDir: string, lines: string[], waitMs = 3000): SiteCtx {
  const deadline = new Deadline(120_000, 'test');
  const env = { CIB_file: cib, PATH: `${standins}:${process.env.PATH}`, DRBDSETUP_STANDIN_STATE: join(samples, state) };
  return {
    stack: stackB,
    src: { run: (argv, o) => run(argv, { ...o, deadline, env: { ...env, ...o?.env } }), drbdconf: '/etc/drbd.conf', stateDir, procDrbd: () => banner },
    deadline,
    waitMs,
    say: (l) => lines.push(l),
    clock: () => '0.0s',
  };
}

const ticketGranted = (cib: string) => /<ticket_state[^>]*id="ticket-nfs"[^>]*granted="true"|<ticket_state[^>]*granted="true"[^>]*id="ticket-nfs"/.test(readFileSync(cib, 'utf8'));

/** What node2's drbd-promote monitors would have recorded: connected to a Primary node1, then the link gone. */
function recordPrimaryAtLoss(dir: string): void {
  const r = (f: string) => parseEvents2(readFileSync(join(samples, f), 'utf8')).get('r0')!;
  const a = nextPeerRecord(undefined, r('s02-primary-connected-node2-events2-now.txt'), new Date('2026-12-01T21:46:10Z'))!;
  writePeerRecord(dir, nextPeerRecord(a, r('s05b-link-down-primary-after-write-node2-events2-now.txt'), new Date('2026-12-01T21:53:04Z'))!);
}

describe('site takeover on a CIB file', () => {
  it('refuses without --accept-data-loss when the peer was Primary at the loss: the ticket stays ungranted', async () => {
    const cib = standbyCib('refuse');
    const dir = join(work, 'state-refuse');
    recordPrimaryAtLoss(dir);
    const lines: string[] = [];
    const code = await takeover(ctx(cib, 's05b-link-down-primary-after-write-node2', dir, lines), stackB.services, false);
    expect(code).toBe(EXIT.DATA_LOSS);
    expect(lines.join('\n')).toContain('was Primary when the link went away, between 2026-12-01T21:46:10.000Z and 2026-12-01T21:53:04.000Z');
    expect(ticketGranted(cib)).toBe(false);
  });

  it("names the moment the link went as drbd-promote's monitor noted it from the kernel log, when the kernel log here no longer holds it", async () => {
    const cib = standbyCib('refuse-noted');
    const dir = join(work, 'state-refuse-noted');
    recordPrimaryAtLoss(dir);
    const rec = readPeerRecord(dir, 'r0')!;
    writePeerRecord(dir, withLinkWent(rec, 'node1', { at: '2026-12-01T21:52:58Z', peerRole: 'Primary', to: 'NetworkFailure' }));
    const lines: string[] = [];
    expect(await takeover(ctx(cib, 's05b-link-down-primary-after-write-node2', dir, lines), stackB.services, false)).toBe(EXIT.DATA_LOSS);
    expect(lines.join('\n')).toContain('at 2026-12-01T21:52:58Z (DRBD\'s kernel log here: NetworkFailure)');
    expect(ticketGranted(cib)).toBe(false);
  });

  it('refuses while connected (use handover), with nothing changed', async () => {
    const cib = standbyCib('connected');
    const lines: string[] = [];
    expect(await takeover(ctx(cib, 's02-primary-connected-node2', join(work, 'none'), lines), stackB.services, true)).toBe(EXIT.WRONG_STEP);
    expect(ticketGranted(cib)).toBe(false);
  });

  it('with --accept-data-loss: crm_ticket grants it; the bounded wait ends; after Pacemaker acted (crm_simulate) it is idempotent', async () => {
    const cib = standbyCib('accept');
    const dir = join(work, 'state-accept');
    recordPrimaryAtLoss(dir);
    const lines: string[] = [];
    // No cluster acts on a CIB file: the wait for the stack runs out (exit 6), the ticket is granted.
    const code = await takeover(ctx(cib, 's05b-link-down-primary-after-write-node2', dir, lines, 2500), stackB.services, true);
    expect(code, lines.join('\n')).toBe(EXIT.TIMEOUT);
    expect(ticketGranted(cib)).toBe(true);
    expect(lines.some((l) => l.includes('WARNING') && l.includes('--accept-data-loss given'))).toBe(true);
    // What the cluster does with the ticket: promote, mount, export, address, in order.
    const acted = join(work, 'accept-acted.xml');
    const g = join(work, 'accept-graph.xml');
    expect(sh(['crm_simulate', '-x', cib, '-S', '-O', acted, '-G', g]).status).toBe(0);
    const states = await siteStates(ctx(acted, 's07-split-brain-standalone-node2', dir, []).src, stackB, []);
    expect(states[0]).toMatchObject({ promotedOn: 'node2', stackRunning: true, ticket: { granted: true } });
    // node2 Primary and apart (the s07 capture): served already, nothing to do.
    const again: string[] = [];
    expect(await takeover(ctx(acted, 's07-split-brain-standalone-node2', dir, again), stackB.services, false)).toBe(EXIT.OK);
    expect(again.join('\n')).toContain('already served at site b');
  });
});

describe('site salvage on a CIB file, with a real filesystem on a loop device', () => {
  // drbdadm and drbdsetup answer from a scenario directory (captured DRBD 9 states, byte for byte);
  // crm_resource, crm_mon and cibadmin are Pacemaker's own on the CIB file; the mount is real.
  const adm = join(work, 'bin-adm');
  mkdirSync(adm);
  symlinkSync(join(__dirname, '..', 'standins', 'drbdsetup-standin'), join(adm, 'drbdsetup'));
  symlinkSync(join(__dirname, '..', 'standins', 'drbdadm-standin'), join(adm, 'drbdadm'));
  const scenario = (name: string, sample: string) => {
    const dir = join(work, `drbd-${name}`);
    mkdirSync(dir);
    copyFileSync(join(samples, `${sample}-events2-now.txt`), join(dir, 'events2-now.txt'));
    copyFileSync(join(samples, `${sample}-events2-now-statistics.txt`), join(dir, 'events2-now-statistics.txt'));
    return dir;
  };
  const salvageCtx = (cib: string, drbdDir: string, stateDir: string, lines: string[], stack = stackB): SiteCtx => {
    const deadline = new Deadline(120_000, 'test');
    const env = { CIB_file: cib, PATH: `${adm}:${process.env.PATH}`, DRBD_STANDIN_DIR: drbdDir };
    return { stack, src: { run: (argv, o) => run(argv, { ...o, deadline, env: { ...env, ...o?.env } }), drbdconf: '/etc/drbd.conf', stateDir, procDrbd: () => banner }, deadline, waitMs: 3000, say: (l) => lines.push(l), clock: () => '0.0s' };
  };
  const maintenance = (cib: string) => /<nvpair [^>]*name="maintenance"[^>]*value="(\w+)"/.exec(readFileSync(cib, 'utf8'))?.[1];

  it('refused with nothing changed: Primary outside Pacemaker and salvage, Outdated, connected, the ticket held here', async () => {
    const cases: Array<[string, string, boolean, number, string]> = [
      ['primary', 's07-split-brain-standalone-node2', false, EXIT.WRONG_STEP, 'neither Pacemaker nor salvage promoted it'],
      ['outdated', 's06-standalone-node2', false, EXIT.WRONG_STEP, 'data here is Outdated'],
      ['connected', 's01-secondary-connected-node2', false, EXIT.WRONG_STEP, 'DRBD is connected to the other site'],
      ['ticket', 's07-split-brain-standalone-node2', true, EXIT.WRONG_STEP, 'this site holds ticket ticket-nfs'],
    ];
    for (const [name, sample, granted, code, text] of cases) {
      const cib = standbyCib(`salvage-${name}`);
      if (granted) expect(sh(['env', `CIB_file=${cib}`, 'crm_ticket', '--ticket', 'ticket-nfs', '--grant', '--force']).status).toBe(0);
      const dir = scenario(`refuse-${name}`, sample);
      const lines: string[] = [];
      expect(await salvage(salvageCtx(cib, dir, join(work, `salvage-state-${name}`), lines), stackB.services[0]!, join(work, `copy-${name}`)), lines.join('\n')).toBe(code);
      expect(lines.join('\n')).toContain(text);
      expect(maintenance(cib), name).toBeUndefined();
      expect(existsSync(join(dir, 'calls')) ? readFileSync(join(dir, 'calls'), 'utf8') : '', name).not.toMatch(/drbdadm .*(primary|connect)/);
    }
  });

  it('a salvage under way (Primary by salvage): maintenance on the clone, the copy mounted read-only, twice is once; rejoin refuses; --done puts the cluster back', async () => {
    const fs = new Scratch();
    try {
      // The returning site's diverged copy: a real xfs holding what it wrote alone.
      const dev = fs.loop('xfs');
      const rw = fs.path('rw');
      fs.mount(dev, rw);
      writeFileSync(join(rw, 'written-alone.txt'), 'record 42\n');
      // The site died right after an fsync: the file's metadata is in the log only, as on a node killed while writing.
      expect(sh(['sync', join(rw, 'written-alone.txt')]).status).toBe(0);
      expect(sh(['xfs_io', '-x', '-c', 'shutdown -f', rw]).status).toBe(0);
      expect(sh(['umount', rw]).status).toBe(0);
      const stack = stackOf(parseDeployment({ ...raw, services: [{ ...raw.services[0]!, device: dev }] }), 'b');
      const svc = stack.services[0]!;
      const cib = standbyCib('salvage-run');
      const stateDir = join(work, 'salvage-state-run');
      // What the first run left when it stopped after the promotion: its record, DRBD Primary StandAlone (s07).
      mkdirSync(stateDir);
      const copy = fs.path('copy');
      writeFileSync(join(stateDir, 'salvage-nfs.json'), JSON.stringify({ service: 'nfs', drbd_resource: 'r0', mountAt: copy, maintenanceBefore: null, at: '2026-12-01T22:00:00Z' }));
      const dir = scenario('run', 's07-split-brain-standalone-node2');
      const lines: string[] = [];
      const c = salvageCtx(cib, dir, stateDir, lines, stack);
      expect(await salvage(c, svc, undefined), lines.join('\n')).toBe(EXIT.OK);
      expect(maintenance(cib)).toBe('true');
      expect(readFileSync(join(copy, 'written-alone.txt'), 'utf8')).toBe('record 42\n');
      expect(sh(['touch', join(copy, 'new')]).status).not.toBe(0);
      // Without the log replay (norecovery) the file written alone was not there.
      expect(sh(['findmnt', '-n', '-o', 'OPTIONS', copy]).stdout).toMatch(/^ro,/);
      expect(sh(['findmnt', '-n', '-o', 'OPTIONS', copy]).stdout).not.toMatch(/norecovery/);
      expect(lines.join('\n')).toContain(`mounted read-only at ${copy} (ro: the filesystem replayed its journal first`);
      // Twice: nothing promoted again, mounted once.
      expect(await salvage(c, svc, undefined)).toBe(EXIT.OK);
      expect(sh(['findmnt', '-rn', '-o', 'TARGET', copy]).stdout.trim().split('\n')).toHaveLength(1);
      expect(existsSync(join(dir, 'calls')) ? readFileSync(join(dir, 'calls'), 'utf8') : '').not.toContain('primary');
      const rj: string[] = [];
      expect(await rejoin(c, [svc], true)).toBe(EXIT.WRONG_STEP);
      expect(rj.concat(lines).join('\n')).toContain('a salvage is under way here');
      // --done: unmount, demote (the stand-in answers with the captured Secondary StandAlone s06), maintenance unset.
      copyFileSync(join(samples, 's06-standalone-node2-events2-now.txt'), join(dir, 'events2-now.after-secondary.txt'));
      copyFileSync(join(samples, 's06-standalone-node2-events2-now-statistics.txt'), join(dir, 'events2-now-statistics.after-secondary.txt'));
      writeFileSync(join(dir, 'drbdadm-secondary.rc'), '0');
      const done: string[] = [];
      const d = salvageCtx(cib, dir, stateDir, done, stack);
      expect(await salvageDone(d, svc), done.join('\n')).toBe(EXIT.OK);
      expect(sh(['findmnt', copy]).status).not.toBe(0);
      expect(readFileSync(join(dir, 'calls'), 'utf8')).toContain('drbdadm -c /etc/drbd.conf secondary r0');
      expect(maintenance(cib)).toBeUndefined();
      expect(readSalvageRecord(stateDir, 'nfs')).toBeUndefined();
      expect(done.join('\n')).toContain('now `ocfkit site rejoin nfs --discard-local`');
      const again: string[] = [];
      expect(await salvageDone(salvageCtx(cib, dir, stateDir, again, stack), svc)).toBe(EXIT.OK);
      expect(again.join('\n')).toContain('no salvage under way here');
    } finally {
      fs.dispose();
    }
  });

  it('the binary: --mount-at inside the service directory is a usage error', () => {
    const r = sh([bin, 'site', 'salvage', 'nfs', '--config', cfg, '--site', 'b', '--mount-at', '/srv/nfs/old']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("not in or above /srv/nfs, the service's own mount point");
  });
});

describe('site takeover of a service with an application (ocf:heartbeat:Dummy) on a CIB file', () => {
  const appRaw = { ...raw, services: [{ ...raw.services[0]!, application: { agent: 'ocf:heartbeat:Dummy', options: { fake: 'kv' } } }] };
  const appCfg = join(work, 'sites-app.json');
  writeFileSync(appCfg, JSON.stringify(appRaw));
  const appStack = stackOf(parseDeployment(appRaw), 'b');

  it('waits for the application, says why it does not run (its failed start), then where it runs', async () => {
    const cib = join(work, 'app.xml');
    const a = spawnSync(bin, ['stack', 'apply', '--config', appCfg, '--site', 'b', '--cib', cib], { encoding: 'utf8', timeout: 300_000 });
    expect(a.status, a.stderr).toBe(0);
    sh(['env', `CIB_file=${cib}`, 'cibadmin', '-C', '-o', 'nodes', '-X', '<node id="2" uname="node2"/>']);
    const up = join(work, 'app-up.xml');
    expect(sh(['crm_simulate', '-x', cib, '-S', '--quorum=true', '--node-up', 'node2', '-O', up]).status).toBe(0);
    expect(sh(['env', `CIB_file=${up}`, 'crm_attribute', '-N', 'node2', '-l', 'reboot', '-n', 'master-nfs-drbd', '-v', '1000']).status).toBe(0);
    const steady = join(work, 'app-steady.xml');
    expect(sh(['crm_simulate', '-x', up, '-S', '-O', steady]).status).toBe(0);
    const dir = join(work, 'state-app');
    recordPrimaryAtLoss(dir);
    const appCtx = (file: string, state: string, lines: string[]) => ({ ...ctx(file, state, dir, lines, 2500), stack: appStack });
    const lines: string[] = [];
    expect(await takeover(appCtx(steady, 's05b-link-down-primary-after-write-node2', lines), appStack.services, true)).toBe(EXIT.TIMEOUT);
    expect(lines.join('\n')).toContain('waiting for Pacemaker to promote DRBD and start the stack and the application (ocf:heartbeat:Dummy)');
    // The cluster acts, and the application's start fails as for a unit not installed on node2 (rc 5): the stack is up but for it.
    const failed = join(work, 'app-failed.xml');
    expect(sh(['crm_simulate', '-x', steady, '-S', '--op-inject=nfs-app_start_0@node2=5', '-O', failed]).status).toBe(0);
    const why: string[] = [];
    expect(await takeover(appCtx(failed, 's07-split-brain-standalone-node2', why), appStack.services, true)).toBe(EXIT.TIMEOUT);
    expect(why.join('\n')).toMatch(/TIMEOUT nfs: the ticket is granted but the stack does not run yet: nfs-app is stopped; nfs-app_start_0 failed on node2: /);
    const st = await siteStates(appCtx(failed, 's07-split-brain-standalone-node2', []).src, appStack, []);
    expect(st[0]).toMatchObject({ promotedOn: 'node2', stackRunning: false });
    // Without the failure: served, and the application runs there.
    const served = join(work, 'app-served.xml');
    expect(sh(['crm_simulate', '-x', steady, '-S', '-O', served]).status).toBe(0);
    const ok: string[] = [];
    expect(await takeover(appCtx(served, 's07-split-brain-standalone-node2', ok), appStack.services, false)).toBe(EXIT.OK);
    expect(ok.join('\n')).toContain('already served at site b (ticket ticket-nfs granted, node2 Primary, stack running, the application ocf:heartbeat:Dummy running there)');
    const r = sh(['env', `CIB_file=${served}`, bin, 'site', 'status', 'nfs', '--config', appCfg, '--site', 'b', '--json']);
    expect(JSON.parse(r.stdout)[0]).toMatchObject({ application: 'ocf:heartbeat:Dummy', applicationOn: 'node2', stackRunning: true });
  }, 600_000);
});

describe('site handover on a CIB file', () => {
  it('acquire at the receiving site refuses while the other is Primary, and while Secondary without the serving site\'s word; grants with it', async () => {
    const cib = standbyCib('acquire');
    const lines: string[] = [];
    expect(await handover(ctx(cib, 's02-primary-connected-node2', join(work, 'none'), lines), stackB.services, 'b')).toBe(EXIT.WRONG_STEP);
    expect(ticketGranted(cib)).toBe(false);
    const copy = join(work, 'acquire-2.xml');
    copyFileSync(cib, copy);
    expect(await handover(ctx(copy, 's01-secondary-connected-node2', join(work, 'none'), lines, 2000), stackB.services, 'b')).toBe(EXIT.WRONG_STEP);
    expect(ticketGranted(copy)).toBe(false);
    expect(await handover(ctx(copy, 's01-secondary-connected-node2', join(work, 'none'), lines, 2000), stackB.services, 'b', true)).toBe(EXIT.TIMEOUT);
    expect(ticketGranted(copy)).toBe(true);
  });
});

describe('ocfkit site (the built binary)', () => {
  it('status on a CIB file: the ticket, DRBD not loaded on this machine; usage errors exit 2', () => {
    const cib = standbyCib('status');
    expect(sh(['env', `CIB_file=${cib}`, 'crm_ticket', '--ticket', 'ticket-nfs', '--grant', '--force']).status).toBe(0);
    const r = sh(['env', `CIB_file=${cib}`, bin, 'site', 'status', '--config', cfg, '--site', 'b', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)[0]).toMatchObject({ service: 'nfs', site: 'b', ticket: 'ticket-nfs', ticketGrantedHere: true, role: 'not loaded' });
    const x = sh(['env', `CIB_file=${cib}`, bin, 'site', 'status', 'nfs', '--config', cfg, '--site', 'b', '--output-as=xml']);
    expect(x.stdout).toMatch(/<service service="nfs" site="b" ticket="ticket-nfs" ticket-granted-here="true"/);
    expect(sh([bin, 'site', 'takeover', '--config', cfg, '--site', 'b']).status).toBe(2);
    expect(sh([bin, 'site', 'takeover', 'nope', '--config', cfg, '--site', 'b']).stderr).toContain('no service nope');
    const t = sh(['env', `CIB_file=${cib}`, bin, 'site', 'takeover', 'nfs', '--config', cfg, '--site', 'b']);
    expect(t.status).toBe(EXIT.ERROR);
    expect(t.stdout).toContain('the DRBD module is not loaded on this node');
  });
});

describe('booth.conf checked by the real boothd', () => {
  const withBooth = { ...raw, booth: { sites: { a: '192.0.2.11', b: '192.0.2.12' }, arbitrator: '192.0.2.13', expire: 30 } };
  const bcfg = join(work, 'booth.json');
  writeFileSync(bcfg, JSON.stringify(withBooth));

  it('boothd accepts what `stack booth-conf` writes and refuses a ticket whose resends do not fit a renewal', () => {
    const r = sh([bin, 'stack', 'booth-conf', '--config', bcfg, '--site', 'a']);
    expect(r.status, r.stderr).toBe(0);
    const conf = join(work, 'booth.conf');
    writeFileSync(conf, r.stdout);
    // boothd reads the whole configuration first and exits at once on an error in it; a valid one
    // goes on to look for its own address (none here), so it is still running when timeout ends it.
    const good = sh(['timeout', '3', 'boothd', 'daemon', '-S', '-c', conf, '-l', join(work, 'booth.lock')]);
    expect(good.status, good.stdout + good.stderr).toBe(124);
    expect(good.stdout + good.stderr).not.toContain('ERROR');
    const bad = join(work, 'bad.conf');
    writeFileSync(bad, r.stdout.replace('retries = 3', 'retries = 2'));
    const refused = sh(['timeout', '3', 'boothd', 'daemon', '-S', '-c', bad, '-l', join(work, 'bad.lock')]);
    expect(refused.status).not.toBe(124);
    expect(refused.stdout + refused.stderr).toContain('ERROR');
  });

  it('a booth site: pcs -f creates boothd (ocf:pacemaker:booth-site) behind the site address, crm_verify accepts it', () => {
    const cib = join(work, 'booth-a.xml');
    // A whole site's plan through pcs (a Python start per step): past sh()'s 120 s beside two labs.
    const a = spawnSync(bin, ['stack', 'apply', '--config', bcfg, '--site', 'a', '--cib', cib], { encoding: 'utf8', timeout: 300_000 });
    expect(a.status, a.stderr).toBe(0);
    expect(sh(['crm_verify', '-x', cib]).status).toBe(0);
    const xml = readFileSync(cib, 'utf8');
    expect(xml).toMatch(/<group id="booth">[\s\S]*id="booth-ip"[\s\S]*type="booth-site"/);
    expect(xml).toContain('value="192.0.2.11"');
    expect(xml).toMatch(/<op name="start" timeout="60s"[^>]*id="booth-site-start/);
  }, 600_000);
});

describe('a live one-node site cluster (scripts/cluster/solo.sh)', () => {
  const solo = join(__dirname, '..', '..', 'scripts', 'cluster', 'solo.sh');
  const dir = join(work, 'solo');
  const inNode = (...argv: string[]) => sh(['timeout', '60', 'bash', solo, 'exec', dir, ...argv]);
  // One node for both tests (bringing one up and down is seconds of CPU here): the fencing test
  // first, on the fresh node; the ticket test restarts Pacemaker, which it needs to, last.
  beforeAll(() => {
    const up = sh(['env', 'SOLO_NS=ocfkit-site-solo', 'SOLO_NODE=sitea', 'timeout', '120', 'bash', solo, 'up', dir]);
    expect(up.status, up.stderr).toBe(0);
  }, 180_000);
  afterAll(() => {
    sh(['timeout', '120', 'bash', solo, 'down', dir]);
  }, 180_000);
  /** Whether the process is gone (a zombie counts as gone: it has left the node). */
  const gone = (pid: string) => {
    try {
      return / Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\)/, ''));
    } catch {
      return true;
    }
  };

  it('doctor names a failed fencing (read from the fencer apart from the rest) and what to do about it', () => {
    const before = inNode(bin, 'doctor');
    expect(before.status, before.stderr).toBe(0);
    expect(before.stdout).toContain('  no failed or pending fencing');
    // No device can fence a node the cluster does not know: the fencer records the failure.
    const f = inNode('stonith_admin', '--reboot', 'ghost', '--timeout', '10');
    expect(f.status, f.stderr).not.toBe(0);
    const d = inNode(bin, 'doctor');
    expect(d.status, d.stderr).toBe(0);
    expect(d.stdout).toMatch(/^ {2}FENCING FAILED: reboot of ghost at \S+ \S+, asked by stonith_admin\.\d+ on sitea: /m);
    expect(d.stdout).toContain('`stonith_admin --cleanup --history NODE` clears the record');
  });

  it('a granted ticket is gone after the site restarts Pacemaker: a returning site cannot promote by itself', () => {
    expect(inNode('crm_ticket', '--ticket', 'ticket-nfs', '--grant', '--force').status).toBe(0);
    expect(inNode('cibadmin', '-Q', '--scope', 'status').stdout).toMatch(/<ticket_state id="ticket-nfs" granted="true"/);
    // The CIB on disk never holds ticket state: it lives in the status section only.
    expect(readFileSync(join(dir, 'node', 'lib-pacemaker', 'cib', 'cib.xml'), 'utf8')).not.toContain('ticket_state');
    const old = readFileSync(join(dir, 'pacemakerd.pid'), 'utf8').trim();
    expect(inNode('pacemakerd', '--shutdown').status).toBe(0);
    for (let i = 0; i < 60 && !gone(old); i++) sh(['sleep', '0.5']);
    expect(gone(old)).toBe(true);
    // Its own session, its stdio off our pipes: the node keeps it, and this call returns at once.
    expect(inNode('sh', '-c', 'setsid -f pacemakerd </dev/null >/var/log/pacemaker/pacemakerd-again.stdout 2>&1').status).toBe(0);
    let dc = false;
    for (let i = 0; i < 60 && !dc; i++) {
      dc = /current_dc present="true"/.test(inNode('crm_mon', '-1', '--output-as=xml').stdout);
      if (!dc) sh(['sleep', '1']);
    }
    expect(dc).toBe(true);
    expect(inNode('cibadmin', '-Q', '--scope', 'status').stdout).not.toContain('ticket_state');
  });
});
