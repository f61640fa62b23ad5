/**
 * The whole HA NFS stack, end to end in the qemu lab: the `ocfkit stack` plan on the fenced
 * two-node cluster (real DRBD 8.4, the kernel NFS server), a client guest that mounts through the
 * floating address over NFSv4.2 and NFSv3 and keeps writing numbered, fsynced records (the v4
 * writer holding a POSIX lock), and failures under that load. The demo
 * (scripts/lab/demo.ts, docs/lab.md#the-demo) runs first, on this lab: the bring-up, a graceful move (standby) and the
 * primary guest killed; what it prints and returns is checked against the lab's own reading, and
 * around its failovers this test checks the DRBD clone itself (roles, data by checksum, the
 * promotion score, the fenced node rejoining Unpromoted and resynced). Then, in the same lab: nfsd
 * killed on the primary (Pacemaker recovers the export), the DRBD replication link cut, and the
 * primary's disk failing under DRBD (it detaches; the promotion moves to the UpToDate node). After
 * each: the stack runs on one node, the client's open mounts carry on without "Stale file handle"
 * or any other error, the v4 lock is held again on the serving node, and at the end every record
 * the client saw acknowledged is on the disk.
 * Run with `bash scripts/test.sh lab`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type DemoResult, type Failover, runDemo } from '../../scripts/lab/demo';
import { DIR, DRBD_RSC, NODES, VIP, ackCounts, gapsBetween, lockHeldOn, lostRecords, other, placement, round1, stackOn, stopWriters, unpromoted, writersClean, writersProgress } from '../../scripts/lab/stack';
import { DRBD_LAB, KILL_NFS_SERVER, type Node, crmMon, drbdInSync, drbdView, lab, labDir, labExec, labOk, labShOk, useLab, waitFor, xpath } from './lab';

// $1: a file on the stack's filesystem. 4 MiB of new data, on the disk before this returns; its checksum.
const WRITE_SUM = `set -eu -o pipefail
head -c 4194304 /dev/urandom >"$1.tmp" && sync "$1.tmp" && mv "$1.tmp" "$1" && sync "$1"
sha256sum <"$1" | cut -d' ' -f1`;
// $1: the file; read from the device (the page cache dropped first), its checksum.
const READ_SUM = `set -eu -o pipefail
echo 3 >/proc/sys/vm/drop_caches
sha256sum <"$1" | cut -d' ' -f1`;
const sumOn = (n: Node, file: string) => labShOk(n, READ_SUM, [`${DIR}/${file}`], 120).trim();
const bootId = (n: Node) => labOk(['exec', '-t', '30', n, 'cat', '/proc/sys/kernel/random/boot_id'], 90).stdout.trim();

/** The location constraint crm-fence-peer.sh (crm-fence-peer.9.sh on 9) places (drbd-fence-by-handler-r0-<clone>): which node it keeps promotable, or ''. */
function fencedTo(observer: Node): string {
  const xml = labShOk(observer, 'cibadmin -Q -o constraints', [], 60);
  return xpath(xml, "string(//rsc_location[starts-with(@id,'drbd-fence-by-handler-r0')]//expression[@attribute='#uname']/@value)");
}

describe('the HA NFS stack under a writing client', () => {
  const gaps: Record<string, { v4?: number; v3?: number; stackBackS?: number; moved?: number; resyncedS?: number }> = {};
  useLab({ client: true });
  let demo: DemoResult | undefined;
  let printed = '';
  /** checksums of the data written before each failover, by file */
  const sums: Record<string, string> = {};
  const fenceLog = () => readFileSync(join(labDir, 'run', 'fence-helper.log'), 'utf8');
  /** the killed node's boot before the kill: the fence must reboot it */
  let bootBeforeKill = '';

  // The folded drbd-promote cluster scenarios: the clone's roles and its data around the demo's failovers.
  const hooks = {
    before(kind: Failover['kind'], from: Node) {
      if (kind === 'graceful move') {
        expect(labShOk(from, 'ip -br addr show dev eth0', [], 30)).toContain(`${VIP}/24`);
        expect(unpromoted(from)).toEqual([other(from)]);
        sums.move = labShOk(from, WRITE_SUM, [`${DIR}/sum-move`], 120).trim();
        return;
      }
      // Failback done (the demo saw the standby node return Unpromoted): the stack stayed where it
      // moved, the data is the same there, the unpromoted node resyncs and its promotion score rises
      // from 10 (syncing, the peer UpToDate) once it is UpToDate: the unpromoted monitor (every 20 s)
      // sets it within two intervals.
      const peer = other(from);
      bootBeforeKill = bootId(from);
      expect(stackOn(from, from, 60)).toBe(from);
      expect(unpromoted(from)).toEqual([peer]);
      expect(sumOn(from, 'sum-move')).toBe(sums.move);
      waitFor(`${peer} UpToDate`, 300, () => drbdInSync(peer));
      const score = waitFor(`${peer}'s promotion score raised once it is UpToDate`, 90, () => {
        const v = labExec(from, ['crm_attribute', '-N', peer, '-n', `master-${DRBD_RSC}`, '-l', 'reboot', '-G', '-q'], 60).stdout.trim();
        return ['1000', '10000'].includes(v) ? v : undefined;
      }, 5);
      expect(['1000', '10000']).toContain(score);
      sums.kill = labShOk(from, WRITE_SUM, [`${DIR}/sum-kill`], 120).trim();
    },
    moved(kind: Failover['kind'], from: Node, to: Node) {
      if (kind === 'graceful move') {
        // Promoted on TO, nothing left on FROM: its DRBD is down, read as the agent reads it on
        // either generation (9: events2 has no r0; 8.4: the minor gone from /proc/drbd or Unconfigured).
        waitFor(`the clone stopped on ${from}`, 300, () => !unpromoted(to).includes(from), 5);
        expect(drbdView(from).role).toBe('Unconfigured');
        expect(sumOn(to, 'sum-move')).toBe(sums.move);
        return;
      }
      // The survivor promoted with the data; Pacemaker fenced the dead node (reboot) through the lab's
      // power switch, and its fencing history says so.
      expect(sumOn(to, 'sum-kill')).toBe(sums.kill);
      expect(fenceLog()).toMatch(new RegExp(`asked reboot ${from} -> 0 on`));
      const hist = labExec(to, ['stonith_admin', '--history', from, '--output-as=xml'], 60);
      expect(hist.status, hist.out).toBe(0);
      expect(xpath(hist.stdout, `count(//fence_event[@target='${from}' and @action='reboot' and @status='success'])`)).not.toBe('0');
    },
  };

  it('the demo: bring-up, a graceful move and a killed primary under the writing client', () => {
    demo = runDemo({ up: false, finish: false, write: (t) => void (printed += t), hooks });
    expect(demo.ok, printed).toBe(true);
    expect(demo.steps.every((s) => s.ok)).toBe(true);
    // One line per step with the time since the start.
    expect(printed.split('\n').filter((l) => /^\[\s*\d+s\] done in [\d.]+s: /.test(l)).length).toBe(demo.steps.length);
    for (const f of demo.failovers) gaps[f.kind === 'graceful move' ? 'standby' : 'killed'] = { ...f.pause, stackBackS: f.stackBackS };
    // The whole demo in one test: 450 s at stop 16, over 900 s (the lab's default) on stop 25's slower
    // machine. Its steps have their own deadlines; this only bounds the sum.
  }, 1_800_000);

  it("the demo's summary is the lab's reading: placements, transitions, pauses, records", () => {
    if (!demo?.ok) throw new Error('the demo did not run through');
    const [move, kill] = demo.failovers as [Failover, Failover];
    expect([move.kind, kill.kind]).toEqual(['graceful move', 'primary killed']);
    expect(kill.from).toBe(move.to);
    const survivor = kill.to;
    // Where the stack runs, as crm_mon shows it now.
    expect(placement(survivor)).toMatchObject({ promoted: survivor, fs: survivor, exp: survivor, ip: survivor });
    // pcs status before and after each, as printed.
    for (const [f, text, on] of [[move, move.pcsBefore, move.from], [move, move.pcsAfter, move.to], [kill, kill.pcsBefore, kill.from], [kill, kill.pcsAfter, kill.to]] as const) {
      expect(printed).toContain(text.split('\n').find((l) => /nfs-ip/.test(l)) ?? 'nfs-ip');
      expect(text, `${f.kind}`).toMatch(new RegExp(`nfs-ip\\s+\\(ocf:ocfkit:vip\\):\\s+Started ${on}`));
      expect(text).toContain(`Promoted: [ ${on} ]`);
    }
    expect(kill.pcsAfter).toMatch(new RegExp(`OFFLINE: \\[ ${kill.from} \\]`));
    // The transitions: the move stops the address on the old node and promotes and starts on the
    // new one; the kill fences the victim first.
    const said = (f: Failover) => f.transitions.flatMap((t) => t.actions);
    expect(said(move)).toEqual(expect.arrayContaining([`stop nfs-ip on ${move.from}`, `start nfs-fs on ${move.to}`, `start nfs-export on ${move.to}`, `start nfs-ip on ${move.to}`]));
    // (The fence devices that ran on the victim may start on the survivor first: they wait for nothing.)
    const promotedOn = (f: Failover, n: Node) => said(f).findIndex((a) => new RegExp(`^promote ${DRBD_RSC}(:\\d+)? on ${n}$`).test(a));
    expect(said(kill)).toContain(`fence ${kill.from}`);
    expect(said(kill).indexOf(`fence ${kill.from}`)).toBeLessThan(promotedOn(kill, survivor));
    expect(promotedOn(move, move.to)).toBeGreaterThan(said(move).indexOf(`stop nfs-ip on ${move.from}`));
    expect(said(kill)).toEqual(expect.arrayContaining([`start nfs-fs on ${survivor}`, `start nfs-ip on ${survivor}`]));
    for (const f of demo.failovers) for (const t of f.transitions) expect(printed).toContain(`${t.input}: ${t.actions.join(', ')}`);
    // The pauses, recomputed from the writers' logs over the same records.
    for (const f of demo.failovers) {
      expect(gapsBetween(f.countsBefore, f.countsAfter)).toEqual(f.pause);
      expect(printed).toContain(`NFSv4.2 ${f.pause.v4}s, NFSv3 ${f.pause.v3}s`);
    }
    // "N acknowledged records, 0 lost": the records on the disk now hold at least those.
    const r = demo.records!;
    expect(r).toMatchObject({ server: survivor, lost: 0 });
    expect(printed).toContain(`${r.acked} acknowledged records, 0 lost`);
    const now = lostRecords(survivor);
    for (const [w, v] of Object.entries(now)) {
      expect(v.lost, w).toEqual([]);
      expect(v.acked).toBeGreaterThanOrEqual(r.perWriter[w]!.acked);
    }
  });

  it('the killed node comes back (fenced: a new boot), the cluster whole again: it rejoins as Unpromoted and resyncs, the data the same', () => {
    const kill = demo!.failovers[1]!;
    const [victim, survivor] = [kill.from, kill.to];
    labOk(['wait', victim, '300'], 360);
    // The fence reset the guest: a new boot.
    expect(bootId(victim)).not.toBe(bootBeforeKill);
    // The killed boot's kernel log is kept (streamed onto the share as it was logged): DRBD's lines up to the kill.
    const kmsg = readFileSync(join(labDir, 'run', 'share', 'kmsg', `${victim}.kmsg`), 'utf8');
    const boots = [...kmsg.matchAll(/^\d+,\d+,\d+,[^;]*;Linux version /gm)].map((m) => m.index);
    expect(boots.length, 'boots in the kept kernel log').toBeGreaterThanOrEqual(2);
    expect(kmsg.slice(boots.at(-2)!, boots.at(-1)!)).toMatch(/;(drbd r0|block drbd0): .*role\( Secondary -> Primary \)/);
    expect(labExec(victim, ['bash', DRBD_LAB, 'config', 'fencing'], 60).status).toBe(0);
    labOk(['cluster'], 900);
    const st = crmMon(survivor);
    expect(st.quorum, st.xml).toBe(true);
    expect(st.nodes.map((n) => [n.name, n.online, n.pending, n.unclean])).toEqual([
      ['node1', true, false, false],
      ['node2', true, false, false],
    ]);
    expect(xpath(st.xml, 'string(//cluster_options/@stonith-enabled)')).toBe('true');
    waitFor(`${victim} back as Unpromoted`, 600, () => unpromoted(survivor).includes(victim), 5);
    waitFor(`${victim} resynced`, 300, () => drbdInSync(victim));
    expect(stackOn(survivor, survivor, 60)).toBe(survivor);
    expect(sumOn(survivor, 'sum-kill')).toBe(sums.kill);
    writersProgress(20, 300);
    writersClean();
  });

  it('the NFS server killed on the primary: the next monitor fails, Pacemaker recovers the export, the client carries on', () => {
    const on = stackOn('node1', undefined, 60);
    const watch = other(on); // crm_mon on the node that is not busy recovering
    const before = ackCounts();
    const t0 = Date.now();
    labShOk(on, KILL_NFS_SERVER, [], 60);
    const reason = waitFor('the nfs-export monitor failure', 180, () => {
      const r = xpath(crmMon(watch).xml, "string(//failures/failure[starts-with(@op_key,'nfs-export_monitor')]/@exitreason)");
      return r === '' ? undefined : r;
    }, 5);
    // The kill takes rpc.mountd first, then the threads: a monitor in between names mountd.
    expect(reason).toMatch(/nfsd threads: 0|rpc\.mountd is not running/);
    // Pacemaker restarts the export (and the address after it) where it failed; should a start
    // there fail too, the stack moves. Either way it ends on one node with the server running.
    const now = stackOn(watch, undefined, 900);
    waitFor(`nfsd running on ${now}`, 120, () => Number(labShOk(now, 'cat /proc/fs/nfsd/threads', [], 30)) > 0);
    const back = Date.now();
    writersProgress(20, 600);
    gaps.serverKilled = { ...gapsBetween(before), stackBackS: round1((back - t0) / 1000), ...(now === on ? {} : { moved: 1 }) };
    waitFor(`the v4 lock reclaimed on ${now}`, 120, () => lockHeldOn(now));
    writersClean();
    labShOk(watch, 'crm_resource --cleanup', [], 120);
  });

  it('the DRBD replication link cut: the stack stays, the peer may not be promoted, the client carries on; back, the peer resyncs', () => {
    const on = stackOn('node1', undefined, 60);
    const peer = other(on);
    waitFor(`${peer} UpToDate`, 300, () => drbdInSync(peer));
    const before = ackCounts();
    const t0 = Date.now();
    try {
      // Both cables of the replication link pulled; the cluster link stays.
      for (const n of NODES) labOk(['link', n, 'repl', 'down'], 60);
      waitFor(`${on} to lose its DRBD peer`, 120, () => drbdView(on).connection !== 'Connected', 3);
      // The primary's fence-peer handler keeps the promoted role where the current data is.
      expect(waitFor('the fencing constraint', 180, () => fencedTo(peer) || undefined, 3)).toBe(on);
      writersProgress(20, 300);
      expect(stackOn(peer, undefined, 60)).toBe(on);
      writersClean();
    } finally {
      for (const n of NODES) lab(['link', n, 'repl', 'up'], 60);
    }
    waitFor(`${peer} reconnected and resynced`, 300, () => drbdInSync(peer), 3);
    // The unfence handler (8.4: after-resync-target crm-unfence-peer.sh on the peer; 9: unfence-peer
    // crm-unfence-peer.9.sh), or the agent's unfence, lifts it.
    waitFor('the fencing constraint lifted', 180, () => fencedTo(on) === '', 5);
    gaps.linkCut = { ...gapsBetween(before), resyncedS: round1((Date.now() - t0) / 1000) };
    expect(stackOn(peer, on, 60)).toBe(on);
  });

  it("the primary's disk fails (every I/O errors): DRBD detaches it and serves through the peer, the monitor says so, the promotion moves to the UpToDate node and the stack follows, the client carries on; the disk whole again, it reattaches and resyncs", () => {
    const on = stackOn('node1', undefined, 60);
    const peer = other(on);
    waitFor(`${peer} UpToDate`, 300, () => drbdInSync(peer));
    const before = ackCounts();
    const t0 = Date.now();
    // A device-mapper error target swapped in under DRBD's backing disk (drbd-lab: on-io-error detach).
    const failed = labExec(on, ['bash', DRBD_LAB, 'fail-disk'], 60);
    expect(failed.status, failed.out).toBe(0);
    try {
      waitFor(`DRBD on ${on} detaching its failing disk`, 120, () => drbdView(on).disk === 'Diskless', 2);
      // What the recurring monitor says (its parameters as the stack's), run here the way Pacemaker runs it.
      const mon = labExec(on, ['env', '-i', 'OCF_ROOT=/usr/lib/ocf', `OCF_RESOURCE_INSTANCE=${DRBD_RSC}`, 'OCF_RESKEY_drbd_resource=r0', 'OCF_RESKEY_CRM_meta_interval=10000', 'OCF_RESKEY_CRM_meta_timeout=20000', '/usr/lib/ocf/resource.d/ocfkit/drbd-promote', 'monitor'], 60);
      expect(mon.status, mon.out).toBe(8);
      expect(mon.stderr).toMatch(/ocf-exit-reason:the local disk of r0 \(volume 0\) is Diskless: DRBD detached it/);
      // The score table: 10 here (a peer has the data), 10000 there: Pacemaker moves the promotion.
      expect(stackOn(peer, peer, 600)).toBe(peer);
      const back = Date.now();
      writersProgress(20, 600);
      gaps.diskFailed = { ...gapsBetween(before), stackBackS: round1((back - t0) / 1000), moved: 1 };
      waitFor(`the v4 lock reclaimed on ${peer}`, 120, () => lockHeldOn(peer));
      writersClean();
    } finally {
      labExec(on, ['bash', DRBD_LAB, 'heal-disk'], 120);
    }
    waitFor(`${on} reattached and resynced`, 300, () => drbdInSync(on), 3);
    expect(stackOn(on, peer, 60)).toBe(peer);
  });

  it('every record the client saw acknowledged is on the disk; no split brain', () => {
    stopWriters();
    writersClean();
    const server = stackOn('node1', undefined, 60);
    for (const [w, v] of Object.entries(lostRecords(server))) {
      expect(v.lost, `${w}: acknowledged records missing on ${server}`).toEqual([]);
      expect(v.acked).toBeGreaterThan(60);
    }
    for (const n of NODES) expect(labShOk(n, 'dmesg', [], 30)).not.toMatch(/Split-Brain detected/);
    console.log(`stack failover: longest client-observed pause per writer, and the time until the cluster ran the stack again (s): ${JSON.stringify(gaps)}`);
  });
});
