import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  /** ocfkit's static drop-ins, loaded (installed by the package, which reloaded once). */
  staticLoaded = false;
  /** Installed but not loaded yet (no reload since): the next daemon-reload loads them. */
  staticOnDisk = false;
  /** /run/ocfkit/nfs-server.env; undefined: absent. */
  env: string | undefined;
  envWritable = true;
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
    if (verb === 'daemon-reload') {
      this.loaded = new Map(this.dropIns);
      this.staticLoaded ||= this.staticOnDisk;
    }
    if (verb === 'show' && rest.includes('Id,DropInPaths')) {
      const blocks = unitsOf.filter((u) => u !== 'Id,DropInPaths').map((u) => {
        const paths = [...(this.loaded.has(u) ? [units.dropInPath(u)] : []), ...(this.staticLoaded ? [`${units.VENDOR_UNITS}/${u}.d/${units.STATIC_DROPIN}`] : [])];
        return `Id=${u}\nDropInPaths=${paths.join(' ')}\n`;
      });
      return ok(blocks.join('\n'));
    }
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

  /** The argv a unit runs: the last loaded drop-in's ExecStart (the static one sorts last), its $VARs from the env file. */
  private execOf(unit: string, packaged: string[]): string[] {
    if (this.staticLoaded) return expand(units.staticDropIns(WRAPPER)[unit as keyof ReturnType<typeof units.staticDropIns>]!, this.env).exec;
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
  envFile = (text: string | undefined) => {
    if (!this.envWritable) return false;
    this.env = text;
    this.calls.push(`${text === undefined ? 'remove' : 'write'} env file`);
    return true;
  };
  waitFor = async (_what: string, _ms: number, probe: () => Promise<boolean> | boolean) => probe();
  remaining = () => 60_000;
  info = () => undefined;
  warn: units.Node['warn'] = () => undefined;
}

const WRAPPER = '/usr/lib/ocfkit/nfs-unit-exec';
/** Where Debian 12 has each program (what the wrapper finds). */
const PROGRAMS: Record<string, string> = { 'rpc.statd': '/sbin/rpc.statd', nfsdcld: '/usr/sbin/nfsdcld', 'rpc.nfsd': '/usr/sbin/rpc.nfsd', exportfs: '/usr/sbin/exportfs' };

/**
 * A drop-in's Exec lines as systemd and the wrapper run them: an environment file's variables
 * (KEY=VALUE lines), each unbraced $VAR word replaced by its value split at whitespace (no word when
 * unset), then the wrapper's options and the program found. Undefined for a line the wrapper skips.
 */
function expand(dropIn: string, env: string | undefined) {
  const vars = new Map((env ?? '').split('\n').filter((l) => /^\w+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]));
  const run = (line: string): { argv: string[]; host?: string } | undefined => {
    let words = line.split(' ').flatMap((w) => (w.startsWith('$') ? (vars.get(w.slice(1)) ?? '').split(/\s+/).filter(Boolean) : [w]));
    expect(words[0]).toBe(WRAPPER);
    words = words.slice(1);
    let host: string | undefined;
    if (words[0] === '--uts-hostname') [host, words] = [words[1], words.slice(2)];
    if (words[0] === '--unless-cluster') {
      if (vars.get(units.ENV.cluster)) return undefined;
      words = words.slice(1);
    }
    return { argv: [PROGRAMS[words[0]!]!, ...words.slice(1)], ...(host ? { host } : {}) };
  };
  const lines = (key: string) => dropIn.split('\n').filter((l) => l.startsWith(`${key}=`) && l !== `${key}=`).map((l) => l.slice(key.length + 1).replace(/^-/, ''));
  const exec = run(lines('ExecStart')[0]!)!;
  return { exec: exec.argv, host: exec.host, pre: lines('ExecStartPre').map(run), stopPost: lines('ExecStopPost').map(run), reload: lines('ExecReload').map(run) };
}

const settings: units.StartSettings = {
  info: '/srv/nfs/.nfs-state',
  nfsdcld: '/usr/sbin/nfsdcld',
  statd: '/sbin/rpc.statd',
  nfsdArgv: ['/usr/sbin/rpc.nfsd', '8'],
  nfsdArgs: ['8'],
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

describe('nfs-server.service with the static drop-ins installed', () => {
  it('start writes the environment file before any unit reading it starts, and reloads nothing', async () => {
    const w = new World();
    w.staticLoaded = true;
    await units.startServer(w, { ...settings, scope: '192.0.2.10' });
    const idx = order(w, 'write env file', `systemctl start ${units.CLD}`, `systemctl start ${units.STATD}`, `systemctl start ${units.SERVER}`);
    expect(idx.every((i) => i >= 0)).toBe(true);
    expect(idx).toEqual([...idx].sort((a, b) => a - b));
    expect(w.calls).not.toContain('systemctl daemon-reload');
    expect(w.calls.filter((c) => c.includes('drop-in'))).toEqual([]);
    expect(w.procs.get('nfsdcld')).toEqual(['/usr/sbin/nfsdcld', '-s', '/srv/nfs/.nfs-state/nfsdcld']);
    expect(w.procs.get('rpc.statd')).toEqual(['/sbin/rpc.statd', '--no-notify', '-P', '/srv/nfs/.nfs-state/statd']);
    const server = expand(units.staticDropIns(WRAPPER)[units.SERVER], w.env);
    expect(server.exec).toEqual(['/usr/sbin/rpc.nfsd', '8']);
    expect(server.host).toBe('192.0.2.10');
  });

  it('stop ends the units, then removes the environment file; start after it writes it again and starts the server', async () => {
    const w = new World();
    w.staticLoaded = true;
    await units.startServer(w, settings);
    await units.stopStatd(w, '/srv/nfs/.nfs-state/statd');
    await units.stopServer(w, settings.info, true);
    expect(w.env).toBeUndefined();
    expect(w.calls.indexOf('remove env file')).toBeGreaterThan(w.calls.indexOf(`systemctl stop ${units.CLD}`));
    w.calls.length = 0;
    await units.startServer(w, settings);
    expect(w.calls).toContain(`systemctl start ${units.SERVER}`);
    expect(w.calls).not.toContain('systemctl daemon-reload');
    expect(await w.threads()).toBe(8);
    expect(w.using('rpc.statd', '/srv/nfs/.nfs-state/statd')).toEqual([100]);
  });

  it('an environment file that cannot be written fails the start before any unit starts', async () => {
    const w = new World();
    w.staticLoaded = true;
    w.envWritable = false;
    await expect(units.startServer(w, settings)).rejects.toThrow(/cannot write \/run\/ocfkit\/nfs-server.env/);
    expect(w.calls.filter((c) => c.startsWith('systemctl start') && c !== `systemctl start ${units.CONTROL}`)).toEqual([]);
  });

  it('without them: a warning naming how to install them, runtime drop-ins and one daemon-reload', async () => {
    const w = new World();
    const warned: string[] = [];
    w.warn = (m: string) => void warned.push(m);
    await units.startServer(w, settings);
    expect(warned.join('\n')).toMatch(/nfs-server.service, rpc-statd.service, nfsdcld.service without ocfkit's drop-in 60-ocfkit-nfs.conf: .*daemon-reload.*install them with the ocfkit package \(or scripts\/install.sh\)/);
    expect(w.calls.filter((c) => c === 'systemctl daemon-reload')).toHaveLength(1);
    expect(w.using('rpc.statd', '/srv/nfs/.nfs-state/statd')).toEqual([100]);
  });

  it('installed but not loaded (no reload since): the fallback\'s reload loads them, and they find the environment file', async () => {
    const w = new World();
    w.staticOnDisk = true;
    await units.startServer(w, settings);
    expect(w.calls.filter((c) => c === 'systemctl daemon-reload')).toHaveLength(1);
    expect(w.staticLoaded).toBe(true);
    expect(w.procs.get('rpc.statd')).toEqual(['/sbin/rpc.statd', '--no-notify', '-P', '/srv/nfs/.nfs-state/statd']);
    expect(w.procs.get('nfsdcld')).toEqual(['/usr/sbin/nfsdcld', '-s', '/srv/nfs/.nfs-state/nfsdcld']);
  });

  it('systemctl show failing counts as not installed (the fallback works either way)', async () => {
    const w = new World();
    w.staticLoaded = true;
    const run = w.run;
    w.run = (async (argv: readonly string[], o?: Parameters<units.Node['run']>[1]) => (argv.includes('Id,DropInPaths') ? { argv, code: 1, signal: null, stdout: '', stderr: 'Failed to connect to bus', durationMs: 1, timedOut: false, abandoned: false } : run(argv, o))) as units.Node['run'];
    expect(await units.staticMissing(w.run, [units.SERVER])).toEqual({ missing: [units.SERVER], why: expect.stringContaining('Failed to connect to bus') });
  });
});

describe('static drop-ins', () => {
  const d = units.staticDropIns(WRAPPER);

  it('without the environment file, each unit runs its program as nfs-utils 2.6 packages it (exportfs -r, -au, -f included)', () => {
    // 2.6 sets RPC_STATD_NO_NOTIFY=1; 1.3 (Debian 11) passes --no-notify and $STATDARGS, which the drop-in keeps.
    expect(expand(d[units.STATD], undefined).exec).toEqual(['/sbin/rpc.statd', '--no-notify']);
    expect(d[units.STATD]).toContain(' $STATDARGS ');
    expect(expand(d[units.CLD], undefined).exec).toEqual(['/usr/sbin/nfsdcld']);
    const server = expand(d[units.SERVER], undefined);
    expect(server.exec).toEqual(['/usr/sbin/rpc.nfsd']);
    expect(server.host).toBeUndefined();
    expect(server.pre).toEqual([{ argv: ['/usr/sbin/exportfs', '-r'] }]);
    expect(server.stopPost).toEqual([{ argv: ['/usr/sbin/exportfs', '-au'] }, { argv: ['/usr/sbin/exportfs', '-f'] }]);
    expect(server.reload).toEqual([{ argv: ['/usr/sbin/exportfs', '-r'] }]);
  });

  it("with it, a restart or reload of nfs-server.service leaves other resources' exports alone; stop still flushes the kernel's export cache", () => {
    const env = units.envFile({ ...settings, scope: 'nfs.example' });
    const server = expand(d[units.SERVER], env);
    expect(server.pre).toEqual([undefined]);
    expect(server.stopPost).toEqual([undefined, { argv: ['/usr/sbin/exportfs', '-f'] }]);
    expect(server.reload).toEqual([undefined]);
    for (const text of Object.values(d)) expect(text).toContain(`EnvironmentFile=-${units.ENV_FILE}\n`);
  });

  it('sort after the runtime drop-ins of the fallback, so one left from before the install never outranks them', () => {
    expect([units.STATIC_DROPIN, units.DROPIN].sort()).toEqual([units.DROPIN, units.STATIC_DROPIN]);
  });

  it('the environment file refuses a path systemd would split', () => {
    expect(() => units.envFile({ ...settings, info: '/srv/a b' })).toThrow(/cannot pass through/);
    expect(units.ENV_UNSAFE.test('/srv/nfs/.nfs-state')).toBe(false);
    for (const bad of ['/a b', '/a\tb', '/a"b', "/a'b", '/a\\b', '/a$b']) expect(units.ENV_UNSAFE.test(bad)).toBe(true);
  });

  it('parse systemctl show -p Id,DropInPaths for several units', () => {
    const text = 'Id=nfs-server.service\nDropInPaths=/usr/lib/systemd/system/nfs-server.service.d/60-ocfkit-nfs.conf /etc/systemd/system/nfs-server.service.d/override.conf\n\nId=rpc-statd.service\nDropInPaths=\n';
    const m = units.parseDropInPaths(text);
    expect(m.get(units.SERVER)).toHaveLength(2);
    expect(m.get(units.STATD)).toEqual([]);
  });
});

describe('the wrapper the static drop-ins run', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'ocfkit-wrapper-')), units.WRAPPER);
  writeFileSync(file, units.wrapperScript(), { mode: 0o755 });
  const sh = (args: string[], env: Record<string, string> = {}) => spawnSync(file, args, { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', ...env } });

  it('runs the program it finds with the arguments given, whatever PATH says', () => {
    const r = sh(['printf', '%s|', 'a', 'b c'], { PATH: '/nonexistent' });
    expect(r.stdout).toBe('a|b c|');
    expect(r.status).toBe(0);
  });

  it('--unless-cluster does nothing while the environment file sets the cluster variable', () => {
    expect(sh(['--unless-cluster', 'echo', 'ran']).stdout).toBe('ran\n');
    const r = sh(['--unless-cluster', 'echo', 'ran'], { [units.ENV.cluster]: '1' });
    expect([r.stdout, r.status]).toEqual(['', 0]);
  });

  it('a program that is not installed fails, naming it', () => {
    const r = sh(['no-such-nfs-daemon']);
    expect(r.status).toBe(127);
    expect(r.stderr).toContain('no-such-nfs-daemon is not installed');
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
