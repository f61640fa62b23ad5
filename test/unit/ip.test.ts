import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { addArgv, delArgv, findAddress, linkProblem, parseAddrJson, parseRouteJson } from '../../lib/ip';

const sample = (f: string) => readFileSync(join(__dirname, '..', 'samples', f), 'utf8');

describe('ip -j parsers (samples captured from iproute2 6.1 on Debian 12)', () => {
  const links = parseAddrJson(sample('ip/addr-dadfailed.json'));
  const byName = (n: string) => links.find((l) => l.ifname === n)!;

  it('reads links, flags and address attributes', () => {
    expect(links.map((l) => l.ifname)).toEqual(['lo', 'c0', 'd1', 'd0']);
    const c0 = byName('c0');
    const get = (a: string) => c0.addrs.find((x) => x.local === a)!;
    expect(get('192.0.2.10')).toMatchObject({ family: 'inet', prefixlen: 24, label: 'c0:vip', secondary: true });
    expect(get('fd00::77')).toMatchObject({ family: 'inet6', dadfailed: true, tentative: true });
    expect(get('fd00::11')).toMatchObject({ deprecated: true });
    expect(get('fd00::10')).toMatchObject({ tentative: false, dadfailed: false });
  });

  it('tells a serving link from a down one', () => {
    expect(linkProblem(byName('lo'))).toBeUndefined();
    expect(linkProblem(byName('c0'))).toBeUndefined();
    expect(linkProblem(byName('d1'))).toBe('interface d1 is administratively down');
    expect(linkProblem(byName('d0'))).toBe('interface d0 has no carrier (state LOWERLAYERDOWN)');
  });

  it('finds an address in any spelling, on every link that has it', () => {
    expect(findAddress(links, 'FD00:0::77').map((p) => p.link.ifname)).toEqual(['c0']);
    expect(findAddress(links, '10.9.9.10').map((p) => p.link.ifname)).toEqual(['d0']);
    expect(findAddress(links, '192.0.2.99')).toEqual([]);
  });

  it('sees tentative addresses while DAD runs', () => {
    const early = parseAddrJson(sample('ip/addr-tentative-nocarrier.json'));
    expect(findAddress(early, 'fd00::77')[0]!.addr).toMatchObject({ tentative: true, dadfailed: false });
  });

  it('reads routes and tolerates empty output', () => {
    expect(parseRouteJson(sample('ip/route4-match.json'))).toEqual([
      { dst: '192.0.2.0/24', dev: 'c0', protocol: 'kernel', prefsrc: '192.0.2.1', gateway: undefined },
    ]);
    expect(parseRouteJson(sample('ip/route6-match.json'))[0]).toMatchObject({ dst: 'fd00::/64', dev: 'c0' });
    expect(parseRouteJson(sample('ip/route4-nomatch.json'))).toEqual([]);
    expect(parseAddrJson('')).toEqual([]);
    expect(() => parseAddrJson('Device "x" does not exist.')).toThrow(/not JSON/);
  });

  it('builds argv for add and delete', () => {
    expect(addArgv({ family: 4, address: '192.0.2.10', prefix: 24, dev: 'eth0', broadcast: '+', label: 'eth0:v', preferredLft: 'forever' })).toEqual(
      ['ip', '-4', 'addr', 'add', '192.0.2.10/24', 'broadcast', '+', 'dev', 'eth0', 'label', 'eth0:v', 'preferred_lft', 'forever'],
    );
    expect(addArgv({ family: 6, address: 'fd00::10', prefix: 64, dev: 'eth0', broadcast: '+', nodad: true, noprefixroute: true })).toEqual([
      'ip', '-6', 'addr', 'add', 'fd00::10/64', 'dev', 'eth0', 'nodad', 'noprefixroute',
    ]);
    expect(delArgv(4, '192.0.2.10', 24, 'eth0')).toEqual(['ip', '-4', 'addr', 'del', '192.0.2.10/24', 'dev', 'eth0']);
  });
});
