/**
 * `ocfkit site handover SERVICE|--all --to SITE`: the planned switch with both sites up.
 *
 * By hand, neither cluster can change the other's tickets, so the same command runs once at each
 * site: at the serving site it revokes the ticket and waits until DRBD there is Secondary with both
 * disks UpToDate (nothing written there is missing at the other site); then at SITE it grants the
 * ticket once it sees the peer Secondary and waits for the stack. With booth, the serving site does
 * both: booth revoke, the same wait, then booth grant to SITE, and it watches the peer turn Primary.
 */
import type { Service } from '../stack/model';
import { EXIT, decideAcquire, decideRelease, released } from './decide';
import { type SiteCtx, grantHere, revokeHere, servedLine, stateOf, waitUntil, whyNotNow } from './steps';
import { boothGrant } from './booth';
import { describe } from '../../lib/run';

async function release(ctx: SiteCtx, s: Service, to: string): Promise<number> {
  const d = decideRelease(await stateOf(ctx, s), to);
  if (d.kind !== 'act') {
    ctx.say(`${ctx.clock()} ${d.kind === 'done' ? 'ok  ' : 'REFUSED'} ${d.say}`);
    if (d.kind === 'done' && ctx.stack.site?.booth) return grantThere(ctx, s, to);
    return d.kind === 'refuse' ? d.code : EXIT.OK;
  }
  ctx.say(`${ctx.clock()} ${d.say}${s.application ? `; Pacemaker stops the application (${s.application.agent}) before the unmount` : ''}`);
  await revokeHere(ctx, s);
  const st = await waitUntil(ctx, s, 'DRBD Secondary with both disks UpToDate', released);
  if (!st) {
    ctx.say(`${ctx.clock()} TIMEOUT ${s.name}: the ticket is revoked but DRBD here is not Secondary with both disks UpToDate; nothing serves now. Grant it back here (crm_ticket --ticket ${s.ticket} --grant --force) or look at \`ocfkit doctor\``);
    return EXIT.TIMEOUT;
  }
  if (ctx.stack.site?.booth) return grantThere(ctx, s, to);
  ctx.say(`${ctx.clock()} ok   ${s.name}: released at site ${ctx.stack.site!.name}; now run \`ocfkit site handover ${s.name} --to ${to} --other-site-released\` at site ${to}`);
  return EXIT.OK;
}

/** Booth only: grant to the other site from here and watch its DRBD become Primary over the link. */
async function grantThere(ctx: SiteCtx, s: Service, to: string): Promise<number> {
  const addr = ctx.stack.site!.booth!.sites[to]!;
  const r = await ctx.src.run(boothGrant(s.ticket, addr), { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`booth grant ${s.ticket} to ${to}: ${describe(r)}`);
  ctx.say(`${ctx.clock()} ${s.name}: booth granted ${s.ticket} to site ${to}; waiting for its DRBD to become Primary`);
  const st = await waitUntil(ctx, s, `site ${to} to promote`, (x) => x.link?.connection === 'Connected' && x.link.peerRole === 'Primary');
  if (!st) return EXIT.TIMEOUT;
  ctx.say(`${ctx.clock()} ok   ${s.name}: site ${to} is Primary${s.application ? ` (whether its application runs there: \`ocfkit site status ${s.name}\` at site ${to})` : ''}`);
  return EXIT.OK;
}

async function acquire(ctx: SiteCtx, s: Service, otherSiteReleased: boolean): Promise<number> {
  const d = decideAcquire(await stateOf(ctx, s), otherSiteReleased, !!ctx.stack.site?.booth);
  if (d.kind !== 'act') {
    ctx.say(`${ctx.clock()} ${d.kind === 'done' ? 'ok  ' : 'REFUSED'} ${d.say}`);
    return d.kind === 'refuse' ? d.code : EXIT.OK;
  }
  ctx.say(`${ctx.clock()} ${d.say}`);
  await grantHere(ctx, s);
  const st = await waitUntil(ctx, s, 'the stack to run', (x) => x.ticket.granted && x.drbd?.role === 'Primary' && x.stackRunning);
  if (!st) {
    ctx.say(`${ctx.clock()} TIMEOUT ${s.name}: the ticket is granted here but the stack does not run yet: ${await whyNotNow(ctx, s)}; see \`ocfkit doctor\` (Pacemaker keeps trying)`);
    return EXIT.TIMEOUT;
  }
  ctx.say(`${ctx.clock()} ok   ${servedLine(st)}`);
  return EXIT.OK;
}

export async function handover(ctx: SiteCtx, services: readonly Service[], to: string, otherSiteReleased = false): Promise<number> {
  const here = ctx.stack.site!.name;
  if (!ctx.stack.site!.sites.some((x) => x.name === to)) {
    ctx.say(`--to ${to}: not one of ${ctx.stack.site!.sites.map((x) => x.name).join(', ')}`);
    return EXIT.USAGE;
  }
  let worst: number = EXIT.OK;
  for (const s of services) worst = Math.max(worst, to === here ? await acquire(ctx, s, otherSiteReleased) : await release(ctx, s, to));
  return worst;
}
