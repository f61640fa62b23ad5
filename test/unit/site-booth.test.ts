import { describe, expect, it } from 'vitest';
import { boothConf, parseBoothList, siteOfAddress } from '../../commands/site/booth';
import { parseDeployment, stackOf } from '../../commands/stack/model';
import { plan } from '../../commands/stack/plan';

const raw = {
  sites: { a: { nodes: ['node1'], fencing: 'none' }, b: { nodes: ['node2'], fencing: 'none' } },
  booth: { sites: { a: '192.0.2.11', b: '192.0.2.12' }, arbitrator: '192.0.2.13', expire: 30 },
  services: [{ name: 'nfs', drbd_resource: 'r0', device: '/dev/drbd0', directory: '/srv/nfs', fstype: 'xfs' }],
};

describe('booth', () => {
  it('booth.conf: both sites, the arbitrator, each ticket with an expiry whose resends fit one renewal (boothd refuses otherwise)', () => {
    const b = stackOf(parseDeployment(raw), 'a').site!.booth!;
    const conf = boothConf(b, ['ticket-nfs']);
    expect(conf).toContain('arbitrator = 192.0.2.13\nsite = 192.0.2.11\nsite = 192.0.2.12\n');
    expect(conf).toContain('ticket = "ticket-nfs"\n    expire = 30\n    renewal-freq = 15\n    timeout = 3\n    retries = 3\n');
    for (const expire of [30, 60, 600, 86400]) {
      const c = boothConf({ ...b, expire }, ['t']);
      const n = (k: string) => Number(new RegExp(`${k} = (\\d+)`).exec(c)![1]);
      expect(n('timeout') * (n('retries') + 1)).toBeLessThan(n('renewal-freq'));
      expect(n('retries')).toBeGreaterThanOrEqual(3);
    }
  });

  it('the plan of a booth site runs boothd (ocf:pacemaker:booth-site) behind the site address', () => {
    const steps = plan(stackOf(parseDeployment(raw), 'b')).map((s) => s.argv.join(' '));
    expect(steps).toContain('pcs resource create booth-ip ocf:ocfkit:vip ip=192.0.2.12 cidr_netmask=24 op monitor interval=10s start timeout=60s --group booth');
    expect(steps).toContain('pcs resource create booth-site ocf:pacemaker:booth-site config=/etc/booth/booth.conf op monitor interval=10s start timeout=60s --group booth');
  });

  it('booth list: leader and expiry per ticket (the format of booth\'s list_ticket, composed: not captured here)', () => {
    const t = parseBoothList('ticket: ticket-nfs, leader: 192.0.2.12, expires: 2026-12-01 22:10:00\nticket: ticket-etcd, leader: NONE\nticket: manual-t, leader: 192.0.2.11, expires: INF [manual mode]\n');
    expect(t.get('ticket-nfs')).toMatchObject({ leader: '192.0.2.12', expires: '2026-12-01 22:10:00' });
    expect(t.get('ticket-etcd')).toMatchObject({ leader: 'NONE' });
    expect(t.get('manual-t')).toMatchObject({ leader: '192.0.2.11', expires: 'INF' });
    expect(siteOfAddress(stackOf(parseDeployment(raw), 'a').site!.booth!, '192.0.2.12')).toBe('b');
  });
});

describe('site takeover in booth mode', () => {
  it('grants through booth to this site, never with crm_ticket --force; the bounded wait then ends with 6', async () => {
    const { takeover } = await import('../../commands/site/takeover');
    const { EXIT } = await import('../../commands/site/decide');
    const { Deadline } = await import('../../lib/ocf/deadline');
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const stack = stackOf(parseDeployment(raw), 'b');
    const calls: string[] = [];
    const answer = (argv: readonly string[], stdout: string) => ({ argv, code: 0, signal: null, stdout, stderr: '', durationMs: 1, timedOut: false, abandoned: false });
    const lines: string[] = [];
    const code = await takeover(
      {
        stack,
        src: {
          run: async (argv) => {
            calls.push(argv.join(' '));
            if (argv[0] === 'cibadmin') return answer(argv, '<status/>');
            if (argv[0] === 'crm_mon') return answer(argv, '<pacemaker-result><resources/></pacemaker-result>');
            // b's DRBD after site a went: Secondary, UpToDate, looking for its peer (DRBD 9.2 capture).
            if (argv[0] === 'drbdsetup') return answer(argv, readFileSync(join(__dirname, '..', 'samples', 'drbd9', 's05-link-down-primary-node2-events2-now-statistics.txt'), 'utf8'));
            return answer(argv, '');
          },
          drbdconf: '/etc/drbd.conf',
          stateDir: '/nonexistent',
          // The module's version line: DRBD 9, so the state comes from events2.
          procDrbd: () => readFileSync(join(__dirname, '..', 'samples', 'drbd9', 's01-secondary-connected-node1-proc-drbd.txt'), 'utf8'),
        },
        deadline: new Deadline(60_000, 'test'),
        waitMs: 50,
        say: (l) => lines.push(l),
        clock: () => '0.0s',
      },
      stack.services,
      true,
    );
    expect(code, lines.join('\n')).toBe(EXIT.TIMEOUT);
    expect(calls).toContain('booth grant -s 192.0.2.12 ticket-nfs');
    expect(calls.some((c) => c.startsWith('crm_ticket'))).toBe(false);
  });
});
