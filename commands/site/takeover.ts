/** `ocfkit site takeover SERVICE|--all`: the guarded manual promotion at the standby site. */
import type { Service } from '../stack/model';
import { EXIT, decideTakeover } from './decide';
import { type SiteCtx, grantHere, servedLine, stateOf, waitUntil, whyNotNow } from './steps';

export async function takeover(ctx: SiteCtx, services: readonly Service[], acceptDataLoss: boolean): Promise<number> {
  let worst: number = EXIT.OK;
  for (const s of services) {
    const d = decideTakeover(await stateOf(ctx, s), acceptDataLoss);
    if (d.kind !== 'act') {
      ctx.say(`${ctx.clock()} ${d.kind === 'done' ? 'ok  ' : 'REFUSED'} ${d.say}`);
      if (d.kind === 'refuse') worst = Math.max(worst, d.code);
      continue;
    }
    for (const w of d.warnings) ctx.say(`${ctx.clock()} WARNING ${w}`);
    ctx.say(`${ctx.clock()} ${d.say}`);
    await grantHere(ctx, s);
    ctx.say(`${ctx.clock()} ${s.name}: ${s.ticket} granted; waiting for Pacemaker to promote DRBD and start the stack${s.application ? ` and the application (${s.application.agent})` : ''}`);
    const st = await waitUntil(ctx, s, 'the stack to run', (x) => x.ticket.granted && x.drbd?.role === 'Primary' && x.stackRunning);
    if (!st) {
      ctx.say(`${ctx.clock()} TIMEOUT ${s.name}: the ticket is granted but the stack does not run yet: ${await whyNotNow(ctx, s)}; see \`ocfkit doctor\` and \`crm_mon -1\` (Pacemaker keeps trying)`);
      worst = Math.max(worst, EXIT.TIMEOUT);
      continue;
    }
    ctx.say(`${ctx.clock()} ok   ${servedLine(st)}`);
  }
  return worst;
}
