import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseProcNetTcp, tickleArgv, tickleLines, tickleRecord } from '../../lib/tickle';

// Captured in a network namespace on Debian 12 (6.1): 192.0.2.2:801 -> 192.0.2.10:2049 (IPv4),
// 192.0.2.2:39431 -> 192.0.2.10:20048 accepted by a dual-stack IPv6 socket (v4-mapped in tcp6),
// [2001:db8::2]:52009 -> [2001:db8::10]:20048 (IPv6); both ends of each are in the tables.
const sample = (f: string) => readFileSync(join(__dirname, '..', 'samples', 'proc-net', f), 'utf8');
const tables = [sample('tcp.txt'), sample('tcp6.txt')];

describe('the clients connections to a floating address, from /proc/net/tcp{,6}', () => {
  it('reads established connections only (no listeners), in both directions, v4-mapped as IPv4', () => {
    const v4 = parseProcNetTcp(tables[0]!);
    expect(v4).toEqual([
      { local: '192.0.2.10', localPort: 2049, remote: '192.0.2.2', remotePort: 801 },
      { local: '192.0.2.2', localPort: 39431, remote: '192.0.2.10', remotePort: 20048 },
      { local: '192.0.2.2', localPort: 801, remote: '192.0.2.10', remotePort: 2049 },
    ]);
    const v6 = parseProcNetTcp(tables[1]!);
    expect(v6).toEqual([
      { local: '2001:db8::2', localPort: 52009, remote: '2001:db8::10', remotePort: 20048 },
      { local: '2001:db8::10', localPort: 20048, remote: '2001:db8::2', remotePort: 52009 },
      { local: '192.0.2.10', localPort: 20048, remote: '192.0.2.2', remotePort: 39431 },
    ]);
  });

  it("records the connections whose local end is the address, in portblock's format, sorted", () => {
    expect(tickleRecord('192.0.2.10', tables)).toBe('192.0.2.10:20048\t192.0.2.2:39431\n192.0.2.10:2049\t192.0.2.2:801\n');
    expect(tickleRecord('2001:DB8:0::10', tables)).toBe('2001:db8::10:20048\t2001:db8::2:52009\n');
    expect(tickleRecord('192.0.2.99', tables)).toBe('');
  });

  it('passes on only lines from the address to a unicast client of its family', () => {
    const record = [
      '192.0.2.10:2049\t192.0.2.2:801',
      '192.0.2.11:2049\t192.0.2.2:802', // another address
      '192.0.2.10:2049\t2001:db8::2:803', // another family
      '192.0.2.10:2049\t255.255.255.255:804',
      '192.0.2.10:2049\t127.0.0.1:805',
      '192.0.2.10:0\t192.0.2.2:806',
      '192.0.2.10:2049\t192.0.2.2:65536',
      '192.0.2.10:2049 192.0.2.2:807', // not tab-separated
      '; rm -rf /',
      '',
      ' 192.0.2.10:20048\t192.0.2.3:808 ',
    ].join('\n');
    expect(tickleLines('192.0.2.10', record)).toEqual(['192.0.2.10:2049\t192.0.2.2:801', '192.0.2.10:20048\t192.0.2.3:808']);
    expect(tickleLines('2001:db8::10', tickleRecord('2001:db8::10', tables))).toEqual(['2001:db8::10:20048\t2001:db8::2:52009']);
  });

  it('tickle_tcp from resource-agents, COUNT tickles a connection', () => {
    expect(tickleArgv(3)).toEqual(['/usr/libexec/heartbeat/tickle_tcp', '-n', '3']);
  });
});
