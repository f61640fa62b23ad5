/** `ocfkit site status [SERVICE]`: per service, the ticket, DRBD here and the peer as last seen. */
import { type Booth, ids } from '../stack/model';
import { siteOfAddress } from './booth';
import { outOfSyncKiB } from './decide';
import type { ServiceState } from './state';

export interface StatusView {
  readonly service: string;
  readonly site: string;
  readonly ticket: string;
  readonly ticketGrantedHere: boolean;
  readonly ticketStandby: boolean;
  readonly ticketLastGranted?: string;
  /** Booth's leader as a site name (or its address, or NONE). */
  readonly boothLeader?: string;
  readonly boothExpires?: string;
  /** `booth list` failed here: booth's view is unknown (the ticket line is the CIB's). */
  readonly boothUnreadable?: string;
  readonly role: string;
  readonly disk: string;
  /** DRBD suspends I/O (the cause in DRBD's word, or yes): writes here hang. */
  readonly ioSuspended?: string;
  readonly promotedOn?: string;
  readonly stackRunning: boolean;
  /** The service's application (systemd:UNIT or ocf:…), where it runs (absent: stopped). */
  readonly application?: string;
  readonly applicationOn?: string;
  /** Parts of the stack not in this cluster's configuration. */
  readonly notConfigured?: string;
  /** crm_mon's failed actions on the service's resources, each as "OP on NODE: REASON (rc N)". */
  readonly failedActions?: readonly string[];
  /** Where `site salvage` mounted this side's copy read-only, while it is under way. */
  readonly salvageMountedAt?: string;
  readonly connection: string;
  readonly peer?: string;
  readonly peerRole: string;
  readonly peerDisk: string;
  readonly outOfSyncKiB?: number;
  readonly peerLastSeenConnected?: string;
  readonly linkLost?: { readonly between: string; readonly and: string; readonly peerRole: string; readonly localRole: string };
  /** While the link is down, DRBD's kernel log here: when it went, the peer's role then, the state it went to. */
  readonly linkWentAt?: string;
  readonly peerRoleWhenLinkWent?: string;
  readonly linkWentTo?: string;
}

export function view(st: ServiceState, booth?: Booth): StatusView {
  const oos = outOfSyncKiB(st);
  const lost = st.record?.lost;
  const app = st.service.application ? st.stackParts.find((p) => p.resource === ids(st.service).app) : undefined;
  const leader = st.booth ? (booth ? (siteOfAddress(booth, st.booth.leader) ?? st.booth.leader) : st.booth.leader) : undefined;
  return {
    service: st.service.name,
    site: st.site,
    ticket: st.service.ticket,
    ticketGrantedHere: st.ticket.granted,
    ticketStandby: st.ticket.standby,
    ...(st.ticket.lastGranted ? { ticketLastGranted: new Date(st.ticket.lastGranted * 1000).toISOString() } : {}),
    ...(leader ? { boothLeader: leader } : {}),
    ...(st.booth?.expires ? { boothExpires: st.booth.expires } : {}),
    ...(st.boothUnreadable ? { boothUnreadable: st.boothUnreadable } : {}),
    role: st.drbd?.role ?? 'not loaded',
    disk: st.drbd?.devices.map((d) => d.disk).join('/') || 'none',
    ...(st.drbd?.suspended ? { ioSuspended: st.drbd.suspension ?? 'yes' } : {}),
    ...(st.promotedOn ? { promotedOn: st.promotedOn } : {}),
    stackRunning: st.stackRunning,
    ...(app ? { application: st.service.application!.agent, ...(app.on.length ? { applicationOn: app.on.join(',') } : {}) } : {}),
    ...(st.missing?.length ? { notConfigured: st.missing.join(',') } : {}),
    ...(st.failures?.length ? { failedActions: st.failures.map((f) => `${f.opKey} on ${f.node}: ${f.reason}${f.exitCode ? ` (rc ${f.exitCode})` : ''}`) } : {}),
    ...(st.salvage ? { salvageMountedAt: st.salvage.mountAt } : {}),
    connection: st.link?.connection ?? 'none',
    ...(st.link ? { peer: st.link.peer } : {}),
    // Live while connected; otherwise what this node recorded last.
    peerRole: st.link?.connection === 'Connected' ? st.link.peerRole : (st.linkLoss?.peerRole ?? st.record?.lost?.peerRole ?? st.record?.peerRole ?? 'Unknown'),
    peerDisk: st.link?.connection === 'Connected' ? st.link.peerDevices.map((p) => p.peerDisk).join('/') : (st.record?.lost?.peerDisk ?? st.record?.peerDisk ?? 'DUnknown'),
    ...(oos !== undefined ? { outOfSyncKiB: oos } : {}),
    ...(st.record?.lastConnected ? { peerLastSeenConnected: st.link?.connection === 'Connected' ? 'now' : st.record.lastConnected } : {}),
    ...(lost ? { linkLost: { between: lost.lastRecordedConnected, and: lost.noticedDown, peerRole: lost.peerRole, localRole: lost.localRole } } : {}),
    ...(st.linkLoss ? { linkWentAt: st.linkLoss.at, peerRoleWhenLinkWent: st.linkLoss.peerRole, linkWentTo: st.linkLoss.to } : {}),
  };
}

export function renderText(views: readonly StatusView[]): string {
  const out: string[] = [];
  for (const v of views) {
    const held = v.boothLeader !== undefined ? `booth leader ${v.boothLeader}${v.boothExpires ? ` (expires ${v.boothExpires})` : ''}; ` : '';
    out.push(`${v.service} at site ${v.site}: ticket ${v.ticket} ${held}${v.ticketGrantedHere ? 'GRANTED here' : 'not granted here'}${v.ticketStandby ? ' (standby)' : ''}${v.ticketLastGranted ? `, last granted ${v.ticketLastGranted}` : ''}`);
    if (v.boothUnreadable) out.push(`  booth: NOT ANSWERING (${v.boothUnreadable}): booth's view of ${v.ticket} is unknown here; the line above is this cluster's own`);
    out.push(`  here:  DRBD ${v.role}, disk ${v.disk}; stack ${v.stackRunning ? `running on ${v.promotedOn}` : 'not running'}`);
    if (v.application) out.push(`  app:   ${v.application} ${v.applicationOn ? `running on ${v.applicationOn}` : 'not running'}${v.stackRunning ? ': served here' : ''}`);
    if (v.notConfigured) out.push(`  NOT CONFIGURED here: ${v.notConfigured.split(',').join(', ')} (apply the plan: ocfkit stack apply --live)`);
    for (const f of v.failedActions ?? []) out.push(`  failed: ${f}`);
    if (v.salvageMountedAt) out.push(`  SALVAGE under way: this side's copy read-only at ${v.salvageMountedAt}, the DRBD clone in maintenance; \`ocfkit site salvage ${v.service} --done\` ends it`);
    if (v.ioSuspended) out.push(`  I/O:   SUSPENDED (${v.ioSuspended}): writes to the device wait until DRBD resumes it`);
    const live = v.connection === 'Connected';
    out.push(`  link:  ${v.connection}${v.peer ? ` to ${v.peer}` : ''}${v.outOfSyncKiB !== undefined ? `, ${v.outOfSyncKiB} KiB out of sync` : ''}`);
    out.push(`  peer:  ${live ? '' : 'last seen '}${v.peerRole}, disk ${v.peerDisk}${!live && v.peerLastSeenConnected ? `; last recorded connected ${v.peerLastSeenConnected}` : ''}${!live && !v.peerLastSeenConnected ? '; never recorded connected on this node' : ''}`);
    if (v.linkWentAt) out.push(`  lost:  the link went at ${v.linkWentAt} (DRBD's kernel log: ${v.linkWentTo}); the peer was ${v.peerRoleWhenLinkWent}${v.peerRoleWhenLinkWent === 'Primary' ? `: anything it acknowledged after ${v.linkWentAt} is not here` : ''}`);
    else if (v.linkLost) out.push(`  lost:  the link went between ${v.linkLost.between} and ${v.linkLost.and}; the peer was ${v.linkLost.peerRole}, this node ${v.linkLost.localRole}`);
  }
  return `${out.join('\n')}\n`;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function renderXml(views: readonly StatusView[]): string {
  const out = ['<?xml version="1.0"?>', '<ocfkit-site>'];
  for (const v of views) {
    const { linkLost, failedActions, ...flat } = v;
    const attrs = Object.entries(flat).map(([k, x]) => ` ${k.replace('KiB', 'Kib').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}="${esc(String(x))}"`).join('');
    const inner = [
      ...(linkLost ? [`    <link-lost between="${esc(linkLost.between)}" and="${esc(linkLost.and)}" peer-role="${esc(linkLost.peerRole)}" local-role="${esc(linkLost.localRole)}"/>`] : []),
      ...(failedActions ?? []).map((f) => `    <failed-action text="${esc(f)}"/>`),
    ];
    if (!inner.length) out.push(`  <service${attrs}/>`);
    else out.push(`  <service${attrs}>`, ...inner, '  </service>');
  }
  out.push('</ocfkit-site>');
  return `${out.join('\n')}\n`;
}
