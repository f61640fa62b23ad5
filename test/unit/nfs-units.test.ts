import { describe, expect, it } from 'vitest';
import * as units from '../../lib/nfs-units';
import type { RunResult } from '../../lib/run';

/**
 * A node as the sequences see it, with systemd's part modelled on nfs-utils 2.6's units:
 * nfs-server.service is oneshot + RemainAfterExit (start on an active unit does nothing), its
 * ExecStop ends the threads, and the helpers run what their ExecStart (drop-in first) says.
 */
class World implements units.Node {
  readonly calls: string[] = [];
  readonly state = new Map<string, string>([[units.SERVER, 'inactive'], [units.CLD, 'inactive'], [units.STATD, 'inactive']]);
  readonly dropIns = new Map<string, string>();
  /** The drop-ins systemd has loaded (daemon-reload). */
  loaded = new Map<string, string>();
  readonly procs = new Map<string, string[]>();
  readonly ctl = new Map<string, number | string>([['threads', 0], ['nfsv4leasetime', 90], ['nfsv4gracetime', 90]]);
  /** rpc.nfsd sets these from nfs.conf, over what was written. */
  nfsConf: { lease?: number } = {};
  /** ExecStop's rpc.nfsd 0 stays in lockd's wait after the threads end. */
  stopHangs = false;
  /** A read of the threads blocks (nfsd's mutex held) while rpc.nfsd 0 waits. */
  threadsBlockWhileStopping = false;
  serverFails = false;

  run: units.Node['run'] = async (argv: readonly string[]): Promise<RunResult> => {
    this.calls.push(argv.join(' '));
    const ok = (stdout = ''): RunResult => ({ argv, code: 0, signal: null, stdout, stderr: '', durationMs: 1, timedOut: false, abandoned: false });
    const [, verb, ...rest] = argv;
    const unitsOf = rest.filter((a) => !a.startsWith('-'));
    if (verb === 'daemon-reload') this.loaded = new Map(this.dropIns);
    if (verb === 'show') {
      const u = unitsOf.at(-1)!;
      const st = this.state.get(u) ?? 'inactive';
      return ok(`Result=${st === 'failed' ? 'exit-code' : 'success'}\nActiveState=${st}\nSubState=${st === 'active' ? 'exited' : 'dead'}\n`);
    }
    for (const u of unitsOf) {
      if (verb === 'start' || verb === 'restart') {
        if (verb === 'restart') this.stopUnit(u);
        if (this.state.get(u) === 'active') continue;
        if (u === units.SERVER) {
          if (this.serverFails) {
            this.state.set(u, 'failed');
            return { ...ok(), code: 1, stderr: 'Job for nfs-server.service failed.' };
          }
          this.ctl.set('threads', 8);
          if (this.nfsConf.lease) this.ctl.set('nfsv4leasetime', this.nfsConf.lease);
        }
        if (u === units.CLD) this.procs.set('nfsdcld', this.execOf(u, ['nfsdcld']));
        if (u === units.STATD) this.procs.set('rpc.statd', this.execOf(u, ['rpc.statd']));
        this.state.set(u, 'active');
      }
      if (verb === 'stop') {
        if (u === units.SERVER && this.stopHangs) {
          this.ctl.set('threads', 0);
          this.state.set(u, 'deactivating');
        } else this.stopUnit(u);
      }
      if (verb === 'kill' && this.state.get(u) === 'deactivating') this.state.set(u, 'failed');
      if (verb === 'reset-failed' && this.state.get(u) === 'failed') this.state.set(u, 'inactive');
    }
    return ok();
  };

  private execOf(unit: string, packaged: string[]): string[] {
    const line = this.loaded.get(unit)?.split('\n').filter((l) => l.startsWith('ExecStart=') && l !== 'ExecStart=').at(-1);
    return line ? line.slice('ExecStart='.length).split(' ') : packaged;
  }

  private stopUnit(u: string): void {
    if (u === units.SERVER) this.ctl.set('threads', 0);
    if (u === units.CLD) this.procs.delete('nfsdcld');
    if (u === units.STATD) this.procs.delete('rpc.statd');
    this.state.set(u, 'inactive');
  }

  threads = async () => {
    if (this.threadsBlockWhileStopping && this.state.get(units.SERVER) === 'deactivating') throw new Error('reading /proc/fs/nfsd/threads hung');
    return this.ctl.get('threads') as number;
  };
  running = (name: string) => (this.procs.has(name) ? [100] : []);
  using = (name: string, path: string) => (this.procs.get(name)?.some((a) => a === path || a.startsWith(`${path}/`)) ? [100] : []);
  control = async (file: string, value: string) => {
    this.calls.push(`write ${file} ${value}`);
    this.ctl.set(file, /^\d+$/.test(value) ? Number(value) : value);
  };
  readControl = async (file: string) => this.ctl.get(file) as number;
  dropIn = (unit: string, text: string | undefined) => {
    if (this.dropIns.get(unit) === text) return false;
    if (text === undefined) this.dropIns.delete(unit);
    else this.dropIns.set(unit, text);
    this.calls.push(`${text === undefined ? 'remove' : 'write'} drop-in ${unit}`);
    return true;
  };
  waitFor = async (_what: string, _ms: number, probe: () => Promise<boolean> | boolean) => probe();
  remaining = () => 60_000;
  info = () => undefined;
  warn = () => undefined;
}

const settings: units.StartSettings = {
  info: '/srv/nfs/.nfs-state',
  nfsdcld: '/usr/sbin/nfsdcld',
  statd: '/sbin/rpc.statd',
  nfsdArgv: ['/usr/sbin/rpc.nfsd', '8'],
  leaseTime: 30,
  graceTime: 30,
};

const order = (w: World, ...wanted: string[]) => wanted.map((c) => w.calls.indexOf(c));

describe('nfs-server.service under systemd', () => {
  it('start: the helpers run on the shared directory and the control files are written before the server unit starts', async () => {
    const w = new World();
    await units.startServer(w, settings);
    const idx = order(w, `write drop-in ${units.CLD}`, 'systemctl daemon-reload', `systemctl start ${units.CLD}`, `systemctl start ${units.STATD}`, 'write nfsv4recoverydir /srv/nfs/.nfs-state/v4recovery', 'write nfsv4leasetime 30', `systemctl start ${units.SERVER}`);
    expect(idx.every((i) => i >= 0)).toBe(true);
    expect(idx).toEqual([...idx].sort((a, b) => a - b));
    expect(w.procs.get('nfsdcld')).toEqual(['/usr/sbin/nfsdcld', '-s', '/srv/nfs/.nfs-state/nfsdcld']);
    expect(w.procs.get('rpc.statd')).toEqual(['/sbin/rpc.statd', '--no-notify', '-P', '/srv/nfs/.nfs-state/statd']);
    expect(await w.threads()).toBe(8);
  });

  it('start: a statd already running on /var/lib/nfs (started at boot) is restarted on the shared directory', async () => {
    const w = new World();
    w.procs.set('rpc.statd', ['/sbin/rpc.statd']);
    w.state.set(units.STATD, 'active');
    await units.startServer(w, settings);
    expect(w.calls).toContain(`systemctl restart ${units.STATD}`);
    expect(w.using('rpc.statd', '/srv/nfs/.nfs-state/statd')).toEqual([100]);
  });

  it('start after the threads were ended behind systemd (unit still active) restarts the unit instead of a no-op start', async () => {
    const w = new World();
    await units.startServer(w, settings);
    w.ctl.set('threads', 0); // rpc.nfsd 0 by hand: nfs-server.service stays "active"
    await units.startServer(w, settings);
    expect(w.calls).toContain(`systemctl restart ${units.SERVER}`);
    expect(await w.threads()).toBe(8);
  });

  it('a server unit that fails: the exit reason carries its state', async () => {
    const w = new World();
    w.serverFails = true;
    await expect(units.startServer(w, settings)).rejects.toThrow(/the NFS server did not start: nfs-server.service is failed\/dead \(result: exit-code\)/);
  });

  it('a lease time nfs.conf sets over the parameter fails start, naming nfs.conf', async () => {
    const w = new World();
    w.nfsConf.lease = 90;
    await expect(units.startServer(w, settings)).rejects.toThrow(/nfsv4leasetime 90, not 30: \[nfsd\] lease-time in \/etc\/nfs.conf/);
  });

  it('stop ends the server through systemd, then nfsdcld, removes the drop-ins; a start after it starts the server again', async () => {
    const w = new World();
    await units.startServer(w, settings);
    expect(await units.stopStatd(w, '/srv/nfs/.nfs-state/statd')).toBe(true);
    await units.stopServer(w, settings.info, true);
    expect(w.state.get(units.SERVER)).toBe('inactive');
    expect(w.procs.has('nfsdcld')).toBe(false);
    expect(w.procs.has('rpc.statd')).toBe(false);
    // No daemon-reload in a stop (one ran past 35 s in a loaded guest): the drop-ins stay for the next start.
    expect(w.calls.filter((c) => c === 'systemctl daemon-reload')).toHaveLength(1);
    const idx = order(w, `systemctl stop ${units.STATD}`, `systemctl stop --no-block ${units.SERVER}`, `systemctl stop ${units.CLD}`);
    expect(idx.every((i) => i >= 0)).toBe(true);
    expect(idx).toEqual([...idx].sort((a, b) => a - b));
    w.calls.length = 0;
    await units.startServer(w, settings);
    expect(w.calls).toContain(`systemctl start ${units.SERVER}`);
    expect(w.calls).not.toContain('systemctl daemon-reload');
    expect(await w.threads()).toBe(8);
  });

  it("stop: ExecStop's rpc.nfsd 0 stuck after the threads ended is killed, and the failed unit reset", async () => {
    const w = new World();
    await units.startServer(w, settings);
    w.stopHangs = true;
    await units.stopServer(w, settings.info, true);
    expect(w.calls).toContain(`systemctl kill ${units.SERVER}`);
    expect(w.calls).toContain(`systemctl reset-failed ${units.SERVER}`);
    expect(w.state.get(units.SERVER)).toBe('inactive');
  });

  it('stop: a threads read that does not answer while rpc.nfsd 0 waits (nfsd\'s mutex) ends rpc.nfsd 0 instead of failing the stop', async () => {
    const w = new World();
    await units.startServer(w, settings);
    w.stopHangs = true;
    w.threadsBlockWhileStopping = true;
    await units.stopServer(w, settings.info, true);
    expect(w.calls).toContain(`systemctl kill ${units.SERVER}`);
    expect(w.state.get(units.SERVER)).toBe('inactive');
  });

  it('stop fails, with the unit state, while threads still run', async () => {
    const w = new World();
    await units.startServer(w, settings);
    w.stopHangs = true;
    w.run = (async (argv: readonly string[]) => {
      w.calls.push(argv.join(' '));
      if (argv[1] === 'show') return { argv, code: 0, signal: null, stdout: 'ActiveState=deactivating\nSubState=stop\nResult=success\n', stderr: '', durationMs: 1, timedOut: false, abandoned: false };
      return { argv, code: 0, signal: null, stdout: '', stderr: '', durationMs: 1, timedOut: false, abandoned: false };
    }) as units.Node['run'];
    await expect(units.stopServer(w, settings.info, true)).rejects.toThrow(/did not stop \(nfsd threads: 8\): nfs-server.service is deactivating\/stop/);
  });
});

describe('drop-ins', () => {
  it('replace only ExecStart, with paths quoted and % and $ literal', () => {
    const d = units.dropIns({ ...settings, info: '/srv/a b/%x$y' });
    expect(d[units.STATD]).toBe('[Service]\nExecStart=\nExecStart=/sbin/rpc.statd --no-notify -P "/srv/a b/%%x$$y/statd"\n');
    expect(units.dropIns({ statd: '/sbin/rpc.statd' })).toEqual({ [units.CLD]: undefined, [units.STATD]: undefined, [units.SERVER]: undefined });
  });

  it('parse systemctl show', () => {
    expect(units.parseShow('ActiveState=failed\nSubState=failed\nResult=timeout\n')).toEqual({ activeState: 'failed', subState: 'failed', result: 'timeout' });
    expect(units.parseShow('')).toBeUndefined();
  });
});
