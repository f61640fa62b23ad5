import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT, decideAcquire, decideRelease, decideTakeover, whyNotServed } from '../../commands/site/decide';
import { type ServiceState, boothView, linkToOtherSite, serviceFailures, stackPlacement } from '../../commands/site/state';
import { renderText, renderXml, view } from '../../commands/site/status';
import { servedLine } from '../../commands/site/steps';
import { parseDeployment, stackOf } from '../../commands/stack/model';
import { parseCrmMon, parseFailures } from '../../lib/cluster';
import { type DrbdResource, parseEvents2 } from '../../lib/drbd';
import type { Runner } from '../../lib/run';
import { parseXml } from '../../lib/xml';

const d9 = (f: string): DrbdResource => parseEvents2(readFileSync(join(__dirname, '..', 'samples', 'drbd9', f), 'utf8')).get('r0')!;
const stack = stackOf(
  parseDeployment({
    sites: { a: { nodes: ['node1'], fencing: 'none' }, b: { nodes: ['node2'], fencing: 'none' } },
    services: [{ name: 'kv', drbd_resource: 'r0', device: '/dev/drbd0', directory: '/var/lib/kv', fstype: 'ext4', application: 'systemd:redis-server' }],
  }),
  'b',
);
const svc = stack.services[0]!;

/** crm_mon's resources: DRBD promoted on node2, the mount started there, the application as given. */
const mon = (app: string, failures = '') => `<pacemaker-result><resources><clone id="kv-drbd-clone"><resource id="kv-drbd" role="Promoted"><node name="node2"/></resource></clone>
  <resource id="kv-fs" role="Started"><node name="node2"/></resource>${app}</resources>${failures ? `<failures>${failures}</failures>` : ''}</pacemaker-result>`;
const appStarted = '<resource id="kv-app" resource_agent="systemd:redis-server" role="Started"><node name="node2"/></resource>';
const appStopped = '<resource id="kv-app" resource_agent="systemd:redis-server" role="Stopped"/>';
const failedStart = '<failure op_key="kv-app_start_0" node="node2" exitstatus="error" exitreason="redis-server.service: start job failed" exitcode="1" call="12" status="complete"/>';

function state(xml: string, drbd = d9('s02-primary-connected-node2-events2-now.txt'), granted = true): ServiceState {
  const p = stackPlacement(svc, parseCrmMon(xml));
  const link = linkToOtherSite(drbd, ['node1']);
  const failures = serviceFailures(svc, parseFailures(xml));
  return {
    service: svc,
    site: 'b',
    ticket: { granted, standby: false },
    drbd,
    ...(link ? { link } : {}),
    ...(p.promotedOn ? { promotedOn: p.promotedOn } : {}),
    stackRunning: p.stackRunning,
    stackParts: p.parts,
    ...(p.missing.length ? { missing: p.missing } : {}),
    ...(failures.length ? { failures } : {}),
  };
}

describe('a site service with an application', () => {
  it('served means the application runs where DRBD is promoted, not only the mount', () => {
    expect(state(mon(appStarted)).stackRunning).toBe(true);
    expect(state(mon(appStopped)).stackRunning).toBe(false);
    expect(state(mon(appStarted.replace('node2', 'node3'))).stackRunning).toBe(false);
    // Placed but failed (a monitor found it dead): it does not answer, so the service is not served.
    expect(state(mon(appStarted.replace('role="Started"', 'role="Started" failed="true"'))).stackRunning).toBe(false);
    expect(servedLine(state(mon(appStarted)))).toBe('kv: served at site b on node2; the application systemd:redis-server (kv-app) runs there');
  });

  it('why it is not served: the application stopped, with the failed start and its reason; not in the cluster at all', () => {
    const failed = state(mon(appStopped, failedStart));
    expect(whyNotServed(failed)).toEqual(['kv-app is stopped', 'kv-app_start_0 failed on node2: redis-server.service: start job failed (rc 1)']);
    expect(whyNotServed(state(mon(appStarted)))).toEqual([]);
    expect(whyNotServed(state(mon('')))).toEqual(["kv-app not in this cluster's configuration (apply the plan here: ocfkit stack apply --live)"]);
    // Another resource's failure is not this service's.
    expect(serviceFailures(svc, parseFailures(mon('', failedStart.replace(/kv-app/g, 'kvx-app'))))).toEqual([]);
  });

  it('status: the application and where it runs, failed actions, what the cluster lacks (text, XML, JSON)', () => {
    const v = view(state(mon(appStopped, failedStart)));
    expect(v).toMatchObject({ application: 'systemd:redis-server', stackRunning: false, failedActions: ['kv-app_start_0 on node2: redis-server.service: start job failed (rc 1)'] });
    expect(v.applicationOn).toBeUndefined();
    const text = renderText([v]);
    expect(text).toContain('  app:   systemd:redis-server not running\n');
    expect(text).toContain('  failed: kv-app_start_0 on node2: redis-server.service: start job failed (rc 1)');
    const x = parseXml(renderXml([v])).children[0]!;
    expect(x.attrs).toMatchObject({ application: 'systemd:redis-server', 'stack-running': 'false' });
    expect(x.children.find((c) => c.name === 'failed-action')!.attrs.text).toContain('kv-app_start_0 on node2');
    const up = view(state(mon(appStarted)));
    expect(up).toMatchObject({ applicationOn: 'node2', stackRunning: true });
    expect(renderText([up])).toContain('  app:   systemd:redis-server running on node2: served here');
    expect(renderText([view(state(mon('')))])).toContain('  NOT CONFIGURED here: kv-app (apply the plan: ocfkit stack apply --live)');
  });

  it('takeover and the receiving handover refuse while the cluster lacks the application: the ticket would serve without it', () => {
    const missing = state(mon('').replace(/role="(Promoted|Started)"/g, 'role="Stopped"'), d9('s05b-link-down-primary-after-write-node2-events2-now.txt'), false);
    const t = decideTakeover(missing, true);
    expect(t).toMatchObject({ kind: 'refuse', code: EXIT.ERROR });
    expect(t.say).toContain('the configuration names the application systemd:redis-server, and this cluster has no kv-app: apply the plan at site b first');
    const a = decideAcquire(state(mon('').replace(/role="(Promoted|Started)"/g, 'role="Stopped"'), d9('s01-secondary-connected-node2-events2-now.txt'), false), true);
    expect(a).toMatchObject({ kind: 'refuse', code: EXIT.ERROR });
  });

  it('handover from the serving site refuses while the application runs outside the cluster (the unmount would kill it)', () => {
    const d = decideRelease(state(mon('')), 'a');
    expect(d).toMatchObject({ kind: 'refuse', code: EXIT.ERROR });
    expect(d.say).toContain('the unmount that follows the revoke kills it as a holder of /var/lib/kv');
    expect(decideRelease(state(mon(appStarted)), 'a').kind).toBe('act');
  });
});

describe('loss windows from DRBD\'s own line', () => {
  it('status says what the moment means when the peer was Primary; the split-brain report names the moment and points at salvage', async () => {
    const { decideRejoin } = await import('../../commands/site/decide');
    const sb = d9('s07-split-brain-standalone-node2-events2-now.txt');
    const st: ServiceState = { ...state(mon(appStopped), sb, false), linkLoss: { at: '2026-12-01T22:07:42Z', peerRole: 'Primary', to: 'NetworkFailure' } };
    expect(renderText([view(st)])).toContain("lost:  the link went at 2026-12-01T22:07:42Z (DRBD's kernel log: NetworkFailure); the peer was Primary: anything it acknowledged after 2026-12-01T22:07:42Z is not here");
    const d = decideRejoin({ ...st, drbd: { ...sb, role: 'Secondary' } }, false, true);
    expect(d).toMatchObject({ kind: 'refuse', code: EXIT.SPLIT_BRAIN });
    expect(d.say).toContain("the link went at 2026-12-01T22:07:42Z (DRBD's kernel log here: NetworkFailure), the other site Primary then");
    expect(d.say).toContain('`ocfkit site salvage kv` mounts it read-only');
  });
});

describe('site status when booth does not answer', () => {
  it("says booth's view is unknown, with booth list's reason, instead of dropping it", async () => {
    const run: Runner = async (argv) => ({ argv, code: 1, signal: null, stdout: '', stderr: 'connect to 127.0.0.1:9929 failed: Connection refused', durationMs: 3, timedOut: false, abandoned: false });
    const b = await boothView(run);
    expect(b.tickets.size).toBe(0);
    expect(b.error).toMatch(/^booth list: .*Connection refused/);
    const v = view({ ...state(mon(appStarted)), boothUnreadable: b.error! });
    expect(v.boothUnreadable).toBe(b.error);
    expect(v.boothLeader).toBeUndefined();
    expect(renderText([v])).toContain(`  booth: NOT ANSWERING (${b.error}): booth's view of ticket-kv is unknown here; the line above is this cluster's own`);
  });
});
