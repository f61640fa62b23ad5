/**
 * `ocfkit site rejoin SERVICE|--all` at a site coming back after the other took over. It never
 * touches the ticket; DRBD (started Secondary by drbd-promote, since this site has no ticket)
 * reconnects and becomes the sync target. A split brain is reported and resolved only with
 * --discard-local.
 */
import { DrbdAdm } from '../../lib/drbd';
import { type Handshake, lastHandshake } from '../../lib/drbd-handshake';
import { kernelMessages } from '../../lib/kernel-log';
import { describe } from '../../lib/run';
import type { Service } from '../stack/model';
import { EXIT, decideRejoin } from './decide';
import { readSalvageRecord } from './salvage-record';
import type { ServiceState } from './state';
import { type SiteCtx, stateOf, waitUntil } from './steps';

/** How long after a connect DRBD gets to either connect or refuse (a split brain ends StandAlone again). */
const HANDSHAKE_MS = 20_000;
/** Right after `pcs cluster start` Pacemaker has yet to start drbd-promote here: how long rejoin waits for it. */
const DRBD_UP_MS = 90_000;

/** DRBD says nothing about the disk yet, or is still bringing it in: `drbdadm up` is half-way. */
const ATTACHING = new Set(['Diskless', 'Attaching', 'Negotiating', 'DUnknown']);
/**
 * Up with its disks attached. In the middle of `drbdadm up` (drbd-promote's start) the resource is
 * there Diskless and StandAlone: taking that for up would connect, or call it a split brain.
 */
const drbdUp = (x: ServiceState) => !!x.drbd && x.drbd.role !== 'Unconfigured' && x.drbd.devices.length > 0 && x.drbd.devices.every((d) => d.client || !ATTACHING.has(d.disk));
/** How long the peer may stay silent (Connecting) before rejoin says what to look at over there. */
const PEER_SILENT_MS = 30_000;
/** A StandAlone link is acted on only when it is still StandAlone this long after: `drbdadm up` connects within it. */
const STANDALONE_SETTLE_MS = 2000;
/** Trying to connect, neither connected nor given up (StandAlone). */
const seekingPeer = (x: ServiceState) => !!x.link && x.link.connection !== 'Connected' && x.link.connection !== 'StandAlone';

/**
 * The last handshake of the service's first volume, for the split-brain report; the report goes on
 * without it. An unreadable kernel log is said once (`warned`): rejoin may look at every poll.
 */
async function handshakeOf(ctx: SiteCtx, st: ServiceState, warned: { said: boolean }): Promise<Handshake | undefined> {
  const minor = st.drbd?.devices[0]?.minor;
  if (minor === undefined) return undefined;
  try {
    return lastHandshake((await kernelMessages(ctx.src.run)).map((m) => m.msg), minor, st.link?.peer);
  } catch (e) {
    if (!warned.said) ctx.say(`${ctx.clock()} ${st.service.name}: the kernel log could not be read for DRBD's generation identifiers (${(e as Error).message})`);
    warned.said = true;
    return undefined;
  }
}

async function rejoinOne(ctx: SiteCtx, s: Service, discardLocal: boolean): Promise<number> {
  const salvaging = readSalvageRecord(ctx.src.stateDir, s.name);
  if (salvaging) {
    // Its Primary and mount are outside the cluster: a connect now would meet the other site's Primary.
    ctx.say(`${ctx.clock()} REFUSED ${s.name}: a salvage is under way here (this side's copy mounted read-only at ${salvaging.mountAt}): finish it first with \`ocfkit site salvage ${s.name} --done\`, then rejoin`);
    return EXIT.WRONG_STEP;
  }
  const adm = new DrbdAdm(ctx.src.run, ctx.src.drbdconf);
  let splitBrain = false;
  let connectTried = false;
  /** This run connected or discarded: a refused handshake logged before that is old news. */
  let acted = false;
  let handshake: Handshake | undefined;
  const unreadable = { said: false };
  // Back to StandAlone after a refused handshake, so that the serving site's `drbdadm connect`
  // waits for the next step here rather than meeting this side's attempt and refusing again.
  const standAlone = () => adm.exec(['disconnect', s.drbd_resource], 30_000);
  // A split brain can be refused before rejoin runs, and this side connect again without it:
  // drbd-promote's start notification reconnects a StandAlone resource (found in the lab). The
  // other site gave up StandAlone and never answers, so Connecting would be waited out for
  // nothing: the kernel log's last handshake says it was refused.
  const refusedBefore = async (x: ServiceState): Promise<Handshake | undefined> => {
    if (acted || !seekingPeer(x)) return undefined;
    const h = await handshakeOf(ctx, x, unreadable);
    return h?.splitBrain ? h : undefined;
  };
  if (!drbdUp(await stateOf(ctx, s))) {
    ctx.say(`${ctx.clock()} ${s.name}: DRBD ${s.drbd_resource} is not up here yet (or its disk not attached): waiting for Pacemaker to start it (Secondary: this site has no ticket)`);
    await waitUntil({ ...ctx, waitMs: Math.min(DRBD_UP_MS, ctx.waitMs) }, s, 'DRBD to be started here', drbdUp);
  }
  const others = ctx.stack.site!.sites.filter((x) => x.name !== ctx.stack.site!.name).map((x) => x.name).join(', ');
  const peerSilent = `${s.name}: the other site's DRBD does not take the connection. If site ${others} is up, its DRBD may have given up on it (after a failed handshake DRBD stays StandAlone): on its serving node \`drbdadm cstate ${s.drbd_resource}\` says so, and \`drbdadm connect ${s.drbd_resource}\` there takes the connection again, keeping that site's data; then run \`ocfkit site rejoin ${s.name}\` here again (if this node rebooted since a refused handshake, its kernel log no longer shows it, and only that connect tells)`;
  let standAloneSince: number | undefined;
  for (;;) {
    const st = await stateOf(ctx, s);
    if (!acted && st.link?.connection === 'StandAlone' && (standAloneSince === undefined || performance.now() - standAloneSince < STANDALONE_SETTLE_MS)) {
      standAloneSince ??= performance.now();
      await ctx.deadline.sleep(STANDALONE_SETTLE_MS);
      continue;
    }
    if (st.link?.connection !== 'StandAlone') standAloneSince = undefined;
    const refused = splitBrain ? undefined : await refusedBefore(st);
    if (refused) {
      splitBrain = true;
      handshake = refused;
      // As after rejoin's own refused connect (lab, scenario 4: the serving site's connect was refused again).
      if (!discardLocal) await standAlone();
    }
    if ((splitBrain || st.link?.connection === 'StandAlone') && !handshake) handshake = await handshakeOf(ctx, st, unreadable);
    const d = decideRejoin(st, discardLocal, splitBrain, handshake);
    switch (d.kind) {
      case 'done':
        ctx.say(`${ctx.clock()} ok   ${d.say}`);
        return EXIT.OK;
      case 'refuse':
        ctx.say(`${ctx.clock()} REFUSED ${d.say}`);
        return d.code;
      case 'act':
        return EXIT.ERROR; // rejoin never grants
      case 'connect': {
        ctx.say(`${ctx.clock()} ${d.say}`);
        const r = await adm.exec(['connect', s.drbd_resource], 30_000);
        if (r.code !== 0 && !/already|Connected/i.test(r.stderr)) ctx.say(`${ctx.clock()} ${s.name}: ${describe(r)}`);
        connectTried = true;
        acted = true;
        // The connect makes a new handshake: the report must quote that one, not one read before.
        handshake = undefined;
        // A handshake that finds both sides changed since they last agreed ends StandAlone again. DRBD
        // had given up here (StandAlone) for a reason: if the peer does not take the connection either,
        // it gave up too, after the same refused handshake. Either way this side goes back to
        // StandAlone, so that the serving site's `drbdadm connect` waits for the next step here rather
        // than meeting this side's plain connect and refusing again.
        const after = await waitUntil({ ...ctx, waitMs: Math.min(HANDSHAKE_MS, ctx.waitMs) }, s, 'the handshake', (x) => x.link?.connection === 'Connected');
        if (!after) {
          splitBrain = true;
          if ((await stateOf(ctx, s)).link?.connection !== 'StandAlone') await standAlone();
        }
        continue;
      }
      case 'discard': {
        ctx.say(`${ctx.clock()} ${d.say}`);
        await adm.exec(['disconnect', s.drbd_resource], 30_000);
        const r = await adm.exec(['connect', '--discard-my-data', s.drbd_resource], 30_000);
        if (r.code !== 0) throw new Error(`drbdadm connect --discard-my-data ${s.drbd_resource}: ${describe(r)}`);
        splitBrain = false;
        discardLocal = false;
        acted = true;
        // At a split brain DRBD drops the connection on both sides: the serving site waits StandAlone
        // and will not take this side's connect until it connects too. Its data is kept either way.
        ctx.say(`${ctx.clock()} ${s.name}: if DRBD at site ${others} shows StandAlone (drbdadm cstate ${s.drbd_resource}), run \`drbdadm connect ${s.drbd_resource}\` on its serving node: it keeps that site's data and resyncs this side from it`);
        continue;
      }
      case 'wait': {
        ctx.say(`${ctx.clock()} ${d.say}`);
        let silentSince: number | undefined;
        let hinted = false;
        const st2 = await waitUntil(ctx, s, seekingPeer(st) ? 'the other site to answer' : 'the resync', async (x) => {
          if (decideRejoin(x, false, false).kind !== 'wait' || (await refusedBefore(x)) !== undefined) return true;
          // Never wait blind: a peer that stopped trying is never heard from again.
          if (!seekingPeer(x)) silentSince = undefined;
          else if ((silentSince ??= performance.now()) < performance.now() - PEER_SILENT_MS && !hinted) {
            ctx.say(`${ctx.clock()} ${peerSilent}`);
            hinted = true;
          }
          return false;
        });
        if (!st2) {
          if (!hinted && seekingPeer(await stateOf(ctx, s).catch(() => st))) ctx.say(`${ctx.clock()} ${peerSilent}`);
          return EXIT.TIMEOUT;
        }
        if (st2.link?.connection === 'StandAlone' && connectTried) splitBrain = true;
        continue;
      }
    }
  }
}

export async function rejoin(ctx: SiteCtx, services: readonly Service[], discardLocal: boolean): Promise<number> {
  let worst: number = EXIT.OK;
  for (const s of services) worst = Math.max(worst, await rejoinOne(ctx, s, discardLocal));
  return worst;
}
