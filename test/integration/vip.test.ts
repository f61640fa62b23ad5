import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AGENT_DIR, Segment, ok, requireSandbox, runAgent, sh } from './netns';

requireSandbox();
let seg: Segment;
const base = { ip: '192.0.2.50', cidr_netmask: '24', nic: 'v0' };
const vip = (action: string, params: Record<string, string> = base, env: Record<string, string> = {}) => seg.agent('vip', action, params, env);

beforeAll(() => {
  seg = new Segment('vip');
});
afterAll(() => seg?.destroy());
beforeEach(() => {
  // Each test starts with the segment as created: no VIP, links up.
  for (const a of ['192.0.2.50', 'fd00:2::50', 'fd00:2::2']) if (seg.has(a)) sh(['ip', '-n', seg.node, 'addr', 'flush', 'to', a]);
  seg.link('node', true);
  seg.link('peer', true);
  seg.settle();
});

describe('vip through the OCF tools', () => {
  it('ocf-tester passes (IPv4)', () => {
    const r = sh(['ip', 'netns', 'exec', seg.node, 'ocf-tester', '-n', 'vip4', '-o', 'ip=192.0.2.50', '-o', 'cidr_netmask=24', '-o', 'nic=v0', `${AGENT_DIR}/vip`]);
    expect(r.stdout + r.stderr).toContain('passed all tests');
    expect(r.status).toBe(0);
    expect(seg.has('192.0.2.50')).toBe(false);
  });

  it('ocf-tester passes (IPv6, with duplicate address detection)', () => {
    const r = sh(['ip', 'netns', 'exec', seg.node, 'ocf-tester', '-n', 'vip6', '-o', 'ip=fd00:2::50', '-o', 'cidr_netmask=64', '-o', 'nic=v0', `${AGENT_DIR}/vip`]);
    expect(r.stdout + r.stderr).toContain('passed all tests');
    expect(r.status).toBe(0);
  });

  it('crm_resource --validate and --force-start/check/stop drive the installed agent', () => {
    const opts = ['--class', 'ocf', '--provider', 'ocfkit', '--agent', 'vip', '--option', 'ip=192.0.2.50', '--option', 'cidr_netmask=24', '--option', 'nic=v0'];
    const cr = (what: string) => sh(['ip', 'netns', 'exec', seg.node, 'crm_resource', `--${what}`, ...opts]).status;
    expect(cr('validate')).toBe(0);
    expect(cr('force-check')).toBe(7);
    expect(cr('force-start')).toBe(0);
    expect(seg.has('192.0.2.50')).toBe(true);
    expect(cr('force-check')).toBe(0);
    expect(cr('force-stop')).toBe(0);
    expect(seg.has('192.0.2.50')).toBe(false);
    expect(cr('force-check')).toBe(7);
    const bad = sh(['crm_resource', '--validate', '--output-as=xml', '--class', 'ocf', '--provider', 'ocfkit', '--agent', 'vip', '--option', 'ip=192.0.2.300']);
    expect(bad.status).toBe(6);
    expect(bad.stdout).toContain('reason="parameter ip &quot;192.0.2.300&quot; is not an IPv4 or IPv6 address"');
  });

  it('pcs accepts the meta-data: describe, and create without --force; unknown options are refused', () => {
    expect(ok(['pcs', 'resource', 'describe', 'ocf:ocfkit:vip'])).toContain('check_link_status');
    const dir = mkdtempSync(join(tmpdir(), 'ocfkit-pcs-'));
    const cib = join(dir, 'cib.xml');
    ok(['sh', '-c', `cibadmin --empty > ${cib}`]);
    ok(['pcs', '-f', cib, 'property', 'set', 'stonith-enabled=false']);
    const create = sh(['pcs', '-f', cib, 'resource', 'create', 'web-ip', 'ocf:ocfkit:vip', 'ip=192.0.2.50', 'cidr_netmask=24', 'nic=eth0', 'arp_count=3', 'op', 'monitor', 'interval=10s']);
    expect(create.stderr).not.toMatch(/Error/);
    expect(create.status).toBe(0);
    expect(readFileSync(cib, 'utf8')).toMatch(/<primitive id="web-ip" class="ocf" (type="vip" provider="ocfkit"|provider="ocfkit" type="vip")/);
    expect(sh(['crm_verify', '-x', cib]).status).toBe(0);
    const unknown = sh(['pcs', '-f', cib, 'resource', 'create', 'x', 'ocf:ocfkit:vip', 'ip=192.0.2.51', 'frobnicate=1']);
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toContain("invalid resource option 'frobnicate'");
  });
});

describe('vip behaviour on a real segment', () => {
  it('start adds exactly the address, is idempotent; stop removes exactly it', () => {
    const before = seg.addresses();
    expect(vip('start').code).toBe(0);
    expect(seg.addresses()).toEqual([...before, 'v0 192.0.2.50/24'].sort());
    expect(vip('start').code).toBe(0);
    expect(vip('monitor', base, { OCF_RESKEY_CRM_meta_interval: '10000' }).code).toBe(0);
    expect(vip('stop').code).toBe(0);
    expect(seg.addresses()).toEqual(before);
    expect(vip('stop').code).toBe(0);
    expect(vip('monitor').code).toBe(7);
  });

  it('link down: monitor fails with the reason, never reports stopped while addressed; stop still removes it', () => {
    expect(vip('start').code).toBe(0);
    seg.link('peer', false);
    for (const interval of ['10000', '0']) {
      const m = vip('monitor', base, { OCF_RESKEY_CRM_meta_interval: interval });
      expect(m.code).toBe(1);
      expect(m.reason).toContain('192.0.2.50/24 on v0 is configured but not serving: interface v0 has no carrier');
    }
    expect(vip('start').code).toBe(1);
    expect(vip('monitor', { ...base, check_link_status: 'false' }).code).toBe(0);
    expect(vip('stop').code).toBe(0);
    expect(seg.has('192.0.2.50')).toBe(false);
    const refused = vip('start');
    expect(refused.code).toBe(1);
    expect(refused.reason).toContain('not adding 192.0.2.50: interface v0 has no carrier');
    expect(seg.has('192.0.2.50')).toBe(false);
  });

  it('refuses to start when another host already answers for the address (IPv4)', () => {
    ok(['ip', '-n', seg.peer, 'addr', 'add', '192.0.2.50/24', 'dev', 'v1']);
    try {
      const r = vip('start');
      expect(r.code).toBe(1);
      expect(r.reason).toMatch(/192\.0\.2\.50 is already in use on v0: [0-9a-f:]{17} answered the ARP probe/);
      expect(seg.has('192.0.2.50')).toBe(false);
      expect(vip('start', { ...base, run_arping: 'false' }).code).toBe(0);
    } finally {
      sh(['ip', '-n', seg.peer, 'addr', 'del', '192.0.2.50/24', 'dev', 'v1']);
      vip('stop');
    }
  });

  it('an announcement that fails at once (an interface without ARP) is logged as failed, not as sent', () => {
    ok(['ip', '-n', seg.node, 'link', 'set', 'v0', 'arp', 'off']);
    try {
      const r = vip('start', { ...base, run_arping: 'false', arp_count: '2' });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/announcing 192\.0\.2\.50 \(just added\) failed: `arping -U [^`]*` exited 2: Interface "v0" is not ARPable/);
      expect(r.stderr).not.toMatch(/INFO: .*announcing 192\.0\.2\.50 on v0/);
    } finally {
      ok(['ip', '-n', seg.node, 'link', 'set', 'v0', 'arp', 'on']);
      vip('stop');
    }
  });

  it('arping slower to start than arp_dad_timeout (a loaded node): probed once more with its own 1 s window, then added; never called free unsent', () => {
    const bin = mkdtempSync(join(tmpdir(), 'ocfkit-arping-slow-'));
    symlinkSync(join(__dirname, '..', 'standins', 'arping-slow-start-wrapper'), join(bin, 'arping'));
    const env = { PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin`, ARPING_SLOW_ONCE: join(bin, 'slow-once') };
    const r = vip('start', base, env);
    try {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/arping had not sent its probe for 192\.0\.2\.50 within 500 ms \(a loaded node\?\): probing again/);
      expect(seg.has('192.0.2.50')).toBe(true);
    } finally {
      vip('stop');
    }
  });

  describe("Habets' arping instead of iputils' (test/standins/arping-habets-standin, its captured answers)", () => {
    const standin = () => {
      const bin = mkdtempSync(join(tmpdir(), 'ocfkit-arping-'));
      symlinkSync(join(__dirname, '..', 'standins', 'arping-habets-standin'), join(bin, 'arping'));
      const calls = join(bin, 'calls');
      return { env: { PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin`, ARPING_STANDIN_CALLS: calls }, calls: () => (existsSync(calls) ? readFileSync(calls, 'utf8') : '') };
    };

    it('a host answering its probe fails start, naming the MAC', () => {
      const h = standin();
      const p = { ip: '192.0.2.99', cidr_netmask: '24', nic: 'v0' };
      const r = vip('start', p, h.env);
      expect(r.code, r.stderr).toBe(1);
      expect(r.reason).toBe('192.0.2.99 is already in use on v0: ce:58:05:d2:d5:ca answered the ARP probe; not adding it twice');
      expect(seg.has('192.0.2.99')).toBe(false);
      expect(h.calls()).toBe('arping -V\narping -0 -c 1 -w 1 -i v0 192.0.2.99\n');
    });

    it('no answer: the address is added and announced in both styles with its own options; validate-all accepts it', () => {
      const h = standin();
      const p = { ...base, arp_count: '2', arp_interval: '200' };
      expect(runAgent('vip', 'validate-all', p, { ...h.env, OCF_CHECK_LEVEL: '10' }, { netns: seg.node }).code).toBe(0);
      const r = vip('start', p, h.env);
      try {
        expect(r.code, r.stderr).toBe(0);
        expect(seg.has('192.0.2.50')).toBe(true);
        expect(r.stderr).toMatch(/announcing 192\.0\.2\.50 on v0 \(just added\) with Habets arping 2\.23, 2 of each style/);
        expect(h.calls()).toContain('arping -0 -c 1 -w 1 -i v0 192.0.2.50\n');
        // The announcements go on in the background after start answers: on a loaded host the
        // second style may start after it.
        const announced = ['arping -U -S 192.0.2.50 -c 2 -W 0.2 -i v0 192.0.2.50\n', 'arping -U -P -S 192.0.2.50 -c 2 -W 0.2 -i v0 192.0.2.50\n'];
        for (let i = 0; i < 100 && !announced.every((l) => h.calls().includes(l)); i++) spawnSync('sleep', ['0.1']);
        for (const l of announced) expect(h.calls()).toContain(l);
      } finally {
        vip('stop', p, h.env);
      }
    });
  });

  it('IPv6: duplicate address detection failure fails start and removes the address', () => {
    const r = vip('start', { ip: 'fd00:2::2', cidr_netmask: '64', nic: 'v0' });
    expect(r.code).toBe(1);
    expect(r.reason).toContain('failed IPv6 duplicate address detection on v0');
    expect(seg.has('fd00:2::2')).toBe(false);
  });

  it('without nic and cidr_netmask they come from the on-link route', () => {
    const p = { ip: '192.0.2.51' };
    expect(vip('start', p).code).toBe(0);
    expect(seg.addresses()).toContain('v0 192.0.2.51/24');
    expect(vip('monitor', p).code).toBe(0);
    expect(vip('stop', p).code).toBe(0);
    expect(seg.has('192.0.2.51')).toBe(false);
  });

  it('no route to derive from: probe 7, stop 0, start 5 naming the parameters to set', () => {
    const p = { ip: '203.0.113.9' };
    expect(vip('monitor', p).code).toBe(7);
    expect(vip('stop', p).code).toBe(0);
    const s = vip('start', p);
    expect(s.code).toBe(5);
    expect(s.reason).toContain('set nic and cidr_netmask');
  });

  it('a missing interface: probe 7, stop 0, start and validate-all at level 10 exit 5', () => {
    const p = { ...base, nic: 'nosuch0' };
    expect(vip('monitor', p).code).toBe(7);
    expect(vip('stop', p).code).toBe(0);
    const s = vip('start', p);
    expect(s.code).toBe(5);
    expect(s.reason).toBe('interface nosuch0 does not exist on this node');
    expect(vip('validate-all', p).code).toBe(0);
    expect(vip('validate-all', p, { OCF_CHECK_LEVEL: '10' }).code).toBe(5);
  });

  it('honours OCF_TESTER_FAIL_HAVE_BINARY: a probe reports not running, level-10 validation reports the tool', () => {
    expect(vip('monitor', base, { OCF_TESTER_FAIL_HAVE_BINARY: '1' }).code).toBe(7);
    const v = vip('validate-all', base, { OCF_TESTER_FAIL_HAVE_BINARY: '1', OCF_CHECK_LEVEL: '10' });
    expect(v.code).toBe(5);
    expect(v.reason).toBe('ip is not installed on this node');
  });

  it('stop with broken parameters still removes the address it can name', () => {
    expect(vip('start').code).toBe(0);
    expect(vip('stop', { ...base, arp_count: 'lots' }).code).toBe(0);
    expect(seg.has('192.0.2.50')).toBe(false);
    expect(vip('stop', { ip: 'not-an-ip' }).code).toBe(0);
  });

  it('trace and log files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ocfkit-vip-'));
    expect(vip('start', base, { OCF_TRACE_RA: '1', OCF_TRACE_FILE: `${dir}/trace`, HA_LOGFILE: `${dir}/ha.log` }).code).toBe(0);
    const trace = readFileSync(`${dir}/trace`, 'utf8');
    expect(trace).toContain('+ ip -j addr show');
    expect(trace).toContain('+ ip -4 addr add 192.0.2.50/24 broadcast + dev v0');
    expect(readFileSync(`${dir}/ha.log`, 'utf8')).toMatch(/vip\(vip-test\)\[\d+\]: INFO: start: added 192\.0\.2\.50\/24 to v0/);
    expect(vip('stop').code).toBe(0);
  });

  it('usage: no action exits 2, an unknown one 3', () => {
    expect(vip('').code).toBe(2);
    expect(vip('migrate_to').code).toBe(3);
  });
});

/**
 * Hostile and malformed values for every parameter: each gives the right OCF code with an exit
 * reason and leaves the host as it was, for validate-all and for start.
 */
describe('vip bad input', () => {
  const table: Array<[string, Record<string, string>, number, RegExp]> = [
    ['ip missing', { ip: '' }, 6, /parameter ip is required/],
    ['ip shell metacharacters', { ip: '192.0.2.50; rm -rf /' }, 6, /is not an IPv4 or IPv6 address/],
    ['ip command substitution', { ip: '$(reboot)' }, 6, /is not an IPv4 or IPv6 address/],
    ['ip with prefix', { ip: '192.0.2.50/24' }, 6, /is not an IPv4 or IPv6 address/],
    ['ip overlong', { ip: '1'.repeat(5000) }, 6, /characters long/],
    ['ip octal', { ip: '192.0.2.050' }, 6, /is not an IPv4/],
    ['ip multicast', { ip: '239.1.1.1' }, 6, /multicast/],
    ['ip loopback', { ip: '127.0.0.2' }, 6, /loopback/],
    ['ip zone id', { ip: 'fe80::1%v0' }, 6, /is not an IPv4 or IPv6 address/],
    ['ip network address', { ip: '192.0.2.0', cidr_netmask: '24' }, 6, /network or broadcast/],
    ['cidr_netmask out of range v4', { ip: '192.0.2.50', cidr_netmask: '33' }, 6, /out of range for IPv4/],
    ['cidr_netmask out of range v6', { ip: 'fd00:2::50', cidr_netmask: '129' }, 6, /neither a prefix length/],
    ['cidr_netmask not contiguous', { ip: '192.0.2.50', cidr_netmask: '255.0.255.0' }, 6, /neither a prefix length/],
    ['cidr_netmask dotted for IPv6', { ip: 'fd00:2::50', cidr_netmask: '255.255.0.0' }, 6, /dotted netmask only applies to IPv4/],
    ['cidr_netmask metacharacters', { ip: '192.0.2.50', cidr_netmask: '24`id`' }, 6, /neither a prefix length/],
    ['nic with label', { ip: '192.0.2.50', nic: 'v0:1' }, 6, /set the label with iflabel/],
    ['nic metacharacters', { ip: '192.0.2.50', nic: 'v0;reboot' }, 6, /is not an interface name/],
    ['nic overlong', { ip: '192.0.2.50', nic: 'abcdefghijklmnop' }, 6, /is not an interface name/],
    ['nic path', { ip: '192.0.2.50', nic: '../v0' }, 6, /is not an interface name/],
    ['broadcast for IPv6', { ip: 'fd00:2::50', broadcast: '+' }, 6, /broadcast only applies to IPv4/],
    ['broadcast garbage', { ip: '192.0.2.50', broadcast: 'everyone' }, 6, /is not an IPv4 address/],
    ['iflabel too long', { ip: '192.0.2.50', nic: 'v0', iflabel: 'averyverylongname' }, 6, /label/],
    ['iflabel metacharacters', { ip: '192.0.2.50', iflabel: 'x$(id)' }, 6, /is not a label/],
    ['iflabel for IPv6', { ip: 'fd00:2::50', iflabel: 'x' }, 6, /iflabel only applies to IPv4/],
    ['arp_count negative', { ip: '192.0.2.50', arp_count: '-1' }, 6, /below the minimum/],
    ['arp_count not a number', { ip: '192.0.2.50', arp_count: '5 && reboot' }, 6, /is not an integer/],
    ['arp_interval zero', { ip: '192.0.2.50', arp_interval: '0' }, 6, /below the minimum/],
    ['arp_count_refresh huge', { ip: '192.0.2.50', arp_count_refresh: '100000' }, 6, /above the maximum/],
    ['preferred_lft word', { ip: '192.0.2.50', preferred_lft: 'sometimes' }, 6, /not "forever" or a number of seconds/],
    ['nodad not boolean', { ip: 'fd00:2::50', nodad: 'perhaps' }, 6, /is not a boolean/],
    ['noprefixroute not boolean', { ip: '192.0.2.50', noprefixroute: '2' }, 6, /is not a boolean/],
    ['run_arping not boolean', { ip: '192.0.2.50', run_arping: 'yes please' }, 6, /is not a boolean/],
    ['arp_dad_timeout tiny', { ip: '192.0.2.50', arp_dad_timeout: '1' }, 6, /below the minimum/],
    ['check_link_status bell character', { ip: '192.0.2.50', check_link_status: '\u0007' }, 6, /is not a boolean/],
    ['link-local without nic', { ip: 'fe80::50' }, 6, /link-local IPv6 address needs nic/],
  ];

  const rows = table.map(([name, params, code, reason]) => ({ name, params, code, reason }));
  it.each(rows)('$name → exit $code', ({ params, code, reason }) => {
    const before = seg.addresses();
    for (const action of ['validate-all', 'start']) {
      const r = vip(action, params);
      expect(r.code, `${action}: ${r.stderr}`).toBe(code);
      expect(r.reason).toMatch(reason);
    }
    expect(seg.addresses()).toEqual(before);
  });
});

/**
 * Tickle ACKs across a failover: node A serves a TCP client through the address and dies without
 * a word (its link cut); node B takes the address over. Three namespaces on one bridge (the
 * client's), the real tickle_tcp of resource-agents and the kernel's TCP on every side.
 */
describe('vip tickle ACKs: clients of a dead node reconnect as soon as the address is back', () => {
  const tag = `tk${process.pid % 10000}`;
  const [A, B, C] = ['a', 'b', 'c'].map((x) => `ok-${tag}-${x}`) as [string, string, string];
  const dir = mkdtempSync(join(tmpdir(), 'ocfkit-tickle-'));
  const at = (nic: string) => ({ ip: '192.0.2.10', cidr_netmask: '24', nic, tickle_dir: dir });
  const run = (ns: string, action: string, nic: string) => runAgent('vip', action, at(nic), { HA_LOGFILE: `${dir}/ha.log`, OCF_RESKEY_CRM_meta_interval: action === 'monitor' ? '10000' : '0' }, { netns: ns, instance: 'vip-tickle' });
  const pythons: ChildProcess[] = [];
  const py = (ns: string, code: string, out: string) => {
    const p = spawn('ip', ['netns', 'exec', ns, 'python3', '-u', '-c', code], { stdio: ['ignore', openSync(out, 'w'), 'inherit'] });
    pythons.push(p);
    return p;
  };
  const waitFor = (what: string, seconds: number, test: () => boolean) => {
    const end = Date.now() + seconds * 1000;
    while (!test()) {
      if (Date.now() > end) throw new Error(`timed out after ${seconds} s waiting for ${what}`);
      spawnSync('sleep', ['0.1']);
    }
  };
  const text = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
  // A client that connects and waits for data; it prints how its connection ended.
  const CLIENT = `import socket, time
c = socket.create_connection(("192.0.2.10", 2049))
print("port", c.getsockname()[1])
t = time.time()
try:
    c.recv(10)
    print("closed")
except Exception as e:
    print("ended", type(e).__name__, round(time.time() - t, 2))`;

  beforeAll(() => {
    for (const ns of [A, B, C]) {
      spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      ok(['ip', 'netns', 'add', ns]);
      ok(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    }
    ok(['ip', '-n', C, 'link', 'add', 'br0', 'type', 'bridge']);
    for (const [ns, dev, peer, addr] of [[A, 'vA', 'cA', '192.0.2.1/24'], [B, 'vB', 'cB', '192.0.2.3/24']] as const) {
      ok(['ip', 'link', 'add', dev, 'netns', ns, 'type', 'veth', 'peer', 'name', peer, 'netns', C]);
      ok(['ip', '-n', C, 'link', 'set', peer, 'master', 'br0', 'up']);
      ok(['ip', '-n', ns, 'addr', 'add', addr, 'dev', dev]);
      ok(['ip', '-n', ns, 'link', 'set', dev, 'up']);
    }
    ok(['ip', '-n', C, 'addr', 'add', '192.0.2.2/24', 'dev', 'br0']);
    ok(['ip', '-n', C, 'link', 'set', 'br0', 'up']);
  });
  afterAll(() => {
    for (const p of pythons) p.kill('SIGKILL');
    for (const ns of [A, B, C]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  });

  it('monitor records the connections once; start on the other node tickles them and only them; its first monitor again, then records its own', () => {
    // The bridge forwards once its ports are up (no STP): A answers the client.
    waitFor('the bridge to pass traffic', 20, () => sh(['ip', 'netns', 'exec', C, 'arping', '-c', '1', '-w', '1', '-I', 'br0', '192.0.2.1']).status === 0);
    const started = run(A, 'start', 'vA');
    expect(started.code, started.stderr).toBe(0);
    expect(text(`${dir}/ha.log`)).toContain(`no client connections recorded in ${dir}/192.0.2.10`);
    py(A, 'import socket, time\ns = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(("192.0.2.10", 2049)); s.listen()\nconns = [s.accept() for _ in range(2)]\ntime.sleep(600)', `${dir}/server.out`);
    waitFor('the server to listen', 20, () => sh(['ip', 'netns', 'exec', A, 'ss', '-Htln', 'src', '192.0.2.10:2049']).stdout.trim() !== '');
    py(C, CLIENT, `${dir}/recorded.out`);
    waitFor('the first client to connect', 20, () => text(`${dir}/recorded.out`).startsWith('port'));
    const port = Number(/^port (\d+)/.exec(text(`${dir}/recorded.out`))![1]);

    expect(run(A, 'monitor', 'vA').code).toBe(0);
    expect(text(`${dir}/192.0.2.10`)).toBe(`192.0.2.10:2049\t192.0.2.2:${port}\n`);
    expect(text(`${dir}/ha.log`).match(/recorded 1 client connection\(s\)/g)).toHaveLength(1);
    // Unchanged: not written again.
    expect(run(A, 'monitor', 'vA').code).toBe(0);
    expect(text(`${dir}/ha.log`).match(/recorded 1 client connection\(s\)/g)).toHaveLength(1);

    // A second client after the last monitor: not in the record, so never tickled.
    py(C, CLIENT, `${dir}/unrecorded.out`);
    waitFor('the second client to connect', 20, () => text(`${dir}/unrecorded.out`).startsWith('port'));

    // A dies without a word: no FIN, no RST; its sockets stay. B takes the address over.
    ok(['ip', '-n', A, 'link', 'set', 'vA', 'down']);
    const took = run(B, 'start', 'vB');
    expect(took.code, took.stderr).toBe(0);
    expect(text(`${dir}/ha.log`)).toContain('sent tickle ACKs to 1 client connection(s) that 192.0.2.10 had on the node before (address just added)');
    // The recorded client is reset at once (it would wait for its next retransmission otherwise: with
    // nothing to send, forever); the other is not touched.
    waitFor('the recorded client to be reset', 10, () => /^ended ConnectionResetError/m.test(text(`${dir}/recorded.out`)));
    spawnSync('sleep', ['1']);
    expect(text(`${dir}/unrecorded.out`)).toMatch(/^port \d+\n$/);

    expect(run(B, 'monitor', 'vB').code).toBe(0);
    const log = text(`${dir}/ha.log`);
    expect(log).toContain('sent tickle ACKs to 1 client connection(s) that 192.0.2.10 had on the node before (again, at the first monitor)');
    // B's own list (no client of its own yet) replaces A's.
    expect(log).toContain('recorded 0 client connection(s) to 192.0.2.10');
    expect(text(`${dir}/192.0.2.10`)).toBe('');
    expect(run(B, 'stop', 'vB').code).toBe(0);
  });

  it('a tickle_dir that is not there (the filesystem not mounted): the monitor warns once and still succeeds', () => {
    const gone = { ...at('vB'), tickle_dir: `${dir}/not-mounted` };
    const env = { HA_LOGFILE: `${dir}/gone.log`, OCF_RESKEY_CRM_meta_interval: '10000' };
    expect(runAgent('vip', 'start', gone, env, { netns: B, instance: 'vip-gone' }).code).toBe(0);
    for (let i = 0; i < 2; i++) expect(runAgent('vip', 'monitor', gone, env, { netns: B, instance: 'vip-gone' }).code).toBe(0);
    expect(text(`${dir}/gone.log`).match(/could not record the clients' connections to 192\.0\.2\.10 in .*not-mounted\/192\.0\.2\.10/g)).toHaveLength(1);
    expect(runAgent('vip', 'stop', gone, env, { netns: B, instance: 'vip-gone' }).code).toBe(0);
  });
});
