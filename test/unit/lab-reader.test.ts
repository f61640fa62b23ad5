/**
 * The lab harness's reader of DRBD state (test/lab/lab.ts), checked here on captured output because
 * the lab itself runs elsewhere: events2 on 9, /proc/drbd plus `drbdadm sh-minor` on 8.4, both
 * flattened to the same names.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CRM_MON_XML } from '../../lib/cluster';
import { LAB_CRM_MON_XML } from '../../scripts/lab/host';
import { drbdFromText, viewOf } from '../lab/lab';

const sample = (f: string) => readFileSync(join(__dirname, '..', 'samples', f), 'utf8');
/** What drbdRead fetches on 8.4: the file, the marker line, sh-minor's output. */
const fetched84 = (f: string) => `${sample(`drbd/${f}`)}--- drbdadm sh-minor r0\n0\n`;

describe('the lab reads DRBD the way the agent does', () => {
  it('8.4 and 9 name the same states alike', () => {
    expect(viewOf(drbdFromText('84', fetched84('lab-84-connected-secondary.txt')))).toEqual(viewOf(drbdFromText('9', sample('drbd9/s01-secondary-connected-node1-events2-now.txt'))));
    // 8.4's WFConnection is 9's Connecting.
    expect(viewOf(drbdFromText('84', fetched84('lab-84-outdated-alone.txt')))).toEqual({ role: 'Secondary', disk: 'Outdated', connection: 'Connecting', peerRole: 'Unknown', replication: 'Off', peerDisk: 'DUnknown' });
    expect(viewOf(drbdFromText('9', sample('drbd9/s08-outdated-disconnected-node2-events2-now.txt')))).toEqual({ role: 'Secondary', disk: 'Outdated', connection: 'Connecting', peerRole: 'Unknown', replication: 'Off', peerDisk: 'DUnknown' });
    expect(viewOf(drbdFromText('84', fetched84('lab-84-standalone-primary.txt')))).toMatchObject({ connection: 'StandAlone', role: 'Primary', disk: 'UpToDate', peerDisk: 'DUnknown' });
    expect(viewOf(drbdFromText('9', sample('drbd9/s07-split-brain-standalone-node1-events2-now.txt')))).toMatchObject({ connection: 'StandAlone', role: 'Primary', disk: 'UpToDate', peerDisk: 'DUnknown' });
  });

  it('a sync: Connected, the replication state says how far', () => {
    expect(viewOf(drbdFromText('84', fetched84('lab-84-sync-start.txt')))).toMatchObject({ role: 'Primary', connection: 'Connected', replication: 'WFBitMapS' });
    expect(viewOf(drbdFromText('9', sample('drbd9/s03-sync-node1-events2-now.txt')))).toMatchObject({ role: 'Primary', connection: 'Connected', replication: 'SyncSource', peerDisk: 'Inconsistent' });
  });

  it('down: no minor line on 8.4, `exists -` alone on 9', () => {
    const down = { role: 'Unconfigured', connection: 'Unconfigured' };
    expect(viewOf(drbdFromText('84', fetched84('lab-84-down.txt')))).toMatchObject(down);
    expect(viewOf(drbdFromText('9', sample('drbd9/s10-down-on-node2-node2-events2-now.txt')))).toMatchObject(down);
  });
});

describe('the lab harness', () => {
  it('reads crm_mon with the flags the product uses (its own copy, for Node-loaded benchmarks)', () => {
    expect(LAB_CRM_MON_XML).toEqual(CRM_MON_XML);
  });
});
