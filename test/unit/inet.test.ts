import { describe, expect, it } from 'vitest';
import { familyOf, inPrefix, isLocalAddress, isNetworkOrBroadcast, netmaskToPrefix, parseIPv4, parseIPv6, sameAddress } from '../../lib/inet';

describe('inet', () => {
  it.each(['192.0.2.1', '0.0.0.0', '255.255.255.255'])('IPv4 %s parses', (a) => expect(parseIPv4(a)).toBeDefined());
  it.each(['192.0.2', '192.0.2.256', '010.0.0.1', '1.2.3.4.5', ' 1.2.3.4', '1.2.3.4;', '', 'a.b.c.d'])('IPv4 %j is refused', (a) =>
    expect(parseIPv4(a)).toBeUndefined(),
  );
  it.each(['::', '::1', 'fd00::10', '2001:db8:0:0:1:0:0:1', 'FD00:0:0::1', '::ffff:192.0.2.1', '1:2:3:4:5:6:7:8'])('IPv6 %s parses', (a) =>
    expect(parseIPv6(a)).toBeDefined(),
  );
  it.each(['1::2::3', '1:2:3:4:5:6:7:8:9', 'fe80::1%eth0', 'g::1', '12345::', '::ffff:300.1.1.1', ':1:2:3:4:5:6:7', '1:2:3:4:5:6:7'])(
    'IPv6 %j is refused',
    (a) => expect(parseIPv6(a)).toBeUndefined(),
  );

  it('compares addresses by value', () => {
    expect(sameAddress('fd00::1', 'FD00:0:0:0:0:0:0:1')).toBe(true);
    expect(sameAddress('::ffff:192.0.2.1', '::ffff:c000:201')).toBe(true);
    expect(sameAddress('192.0.2.1', '192.0.2.10')).toBe(false);
    expect(sameAddress('192.0.2.1', '::ffff:192.0.2.1')).toBe(false);
    expect(familyOf('192.0.2.1')).toBe(4);
    expect(familyOf('fd00::1')).toBe(6);
    expect(familyOf('fd00:::1')).toBeUndefined();
  });

  it('converts contiguous netmasks only', () => {
    expect(netmaskToPrefix('255.255.255.0')).toBe(24);
    expect(netmaskToPrefix('255.255.255.255')).toBe(32);
    expect(netmaskToPrefix('0.0.0.0')).toBe(0);
    expect(netmaskToPrefix('255.0.255.0')).toBeUndefined();
  });

  it('prefix membership and network/broadcast addresses', () => {
    expect(inPrefix('192.0.2.77', '192.0.2.0', 24)).toBe(true);
    expect(inPrefix('192.0.3.1', '192.0.2.0', 24)).toBe(false);
    expect(inPrefix('fd00::77', 'fd00::', 64)).toBe(true);
    expect(inPrefix('fd01::77', 'fd00::', 16)).toBe(false);
    expect(isNetworkOrBroadcast('192.0.2.0', 24)).toBe(true);
    expect(isNetworkOrBroadcast('192.0.2.255', 24)).toBe(true);
    expect(isNetworkOrBroadcast('192.0.2.7', 24)).toBe(false);
    expect(isNetworkOrBroadcast('192.0.2.0', 31)).toBe(false);
    expect(isNetworkOrBroadcast('fd00::', 64)).toBe(true);
  });
  it('finds an address among the host\'s in any spelling, and nothing else', () => {
    const here = ['127.0.0.1', '::1', '192.0.2.11', 'fd00:0:0::64'];
    expect(isLocalAddress('192.0.2.11', here)).toBe(true);
    expect(isLocalAddress('fd00::64', here)).toBe(true);
    expect(isLocalAddress('192.0.2.100', here)).toBe(false);
    expect(isLocalAddress('192.0.2.1', [])).toBe(false);
  });
});
