/**
 * `ocfkit site rejoin SERVICE|--all` at a site coming back after the other took over. It never
 * touches the ticket; DRBD (started Secondary by drbd-promote, since this site has no ticket)
 * reconnects and becomes the sync target. A split brain is reported and resolved only with
 * --discard-local.
 */
import { DrbdAdm } from '../../lib/drbd';
import { describe } from '../../lib/run';
import type { Service } from '../stack/model';
import { EXIT, decideRejoin } from './decide';
import { type SiteCtx, stateOf, waitUntil } from './steps';

/** How long after a connect DRBD gets to either connect or refuse (a split brain ends StandAlone again). */
const HANDSHAKE_MS = 20_000;

async function rejoinOne(ctx: SiteCtx, s: Service, discardLocal: boolean): Promise<number> {
  const adm = new DrbdAdm(ctx.src.run, ctx.src.drbdconf);
  let splitBrain = false;
  let connectTried = false;
  for (;;) {
    const st = await stateOf(ctx, s);
    const d = decideRejoin(st, discardLocal, splitBrain);
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
        // A handshake that finds both sides changed since they last agreed ends StandAlone again.
        const after = await waitUntil({ ...ctx, waitMs: Math.min(HANDSHAKE_MS, ctx.waitMs) }, s, 'the handshake', (x) => x.link?.connection === 'Connected');
        if (!after) splitBrain = after === undefined && (await stateOf(ctx, s)).link?.connection === 'StandAlone';
        continue;
      }
      case 'discard': {
        ctx.say(`${ctx.clock()} ${d.say}`);
        await adm.exec(['disconnect', s.drbd_resource], 30_000);
        const r = await adm.exec(['connect', '--discard-my-data', s.drbd_resource], 30_000);
        if (r.code !== 0) throw new Error(`drbdadm connect --discard-my-data ${s.drbd_resource}: ${describe(r)}`);
        splitBrain = false;
        discardLocal = false;
        continue;
      }
      case 'wait': {
        ctx.say(`${ctx.clock()} ${d.say}`);
        const st2 = await waitUntil(ctx, s, 'the resync', (x) => decideRejoin(x, false, false).kind !== 'wait');
        if (!st2) return EXIT.TIMEOUT;
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
