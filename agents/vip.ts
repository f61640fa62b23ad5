/**
 * vip: the floating service address. Parameter names follow ocf:heartbeat:IPaddr2 where the
 * meaning is the same, so `pcs resource create … ocf:ocfkit:vip ip=… cidr_netmask=…` carries over.
 */
import { type Arping, VERSION_ARGV, announceArgv, announceFailed, arpingKind, arpingName, dadArgv, dadVerdict, dadWindowMs, saidSent } from '../lib/arping';
import { endRecorded, readNote, recordPids, removeNote, spawnDetached, stateDir, writeNote } from '../lib/background';
import { type Family, familyOf, inPrefix, isNetworkOrBroadcast, maxPrefix, netmaskToPrefix, parseAddress, parseIPv4 } from '../lib/inet';
import { type IpLink, type Placement, addArgv, delArgv, findAddress, linkProblem, onLinkRoutes, showAddresses } from '../lib/ip';
import { type Ctx, defineAgent } from '../lib/ocf/agent';
import { OCF, OcfError, fail } from '../lib/ocf/codes';
import { checkAbsolutePath, param } from '../lib/ocf/params';
import { commandLine, describe } from '../lib/run';
import { readProcNetTcp, TICKLE_TCP, tickleArgv, tickleLines, tickleRecord } from '../lib/tickle';

const SEND_UA = '/usr/libexec/heartbeat/send_ua';

function checkIp(v: string): string | undefined {
  const a = parseAddress(v);
  if (!a) return `${JSON.stringify(v)} is not an IPv4 or IPv6 address`;
  const b = a.bytes;
  if (a.family === 4) {
    if (b[0] === 0) return `${v} is in 0.0.0.0/8, which is not a host address`;
    if (b[0] === 127) return `${v} is a loopback address`;
    if (b[0]! >= 224) return `${v} is a multicast or reserved address`;
  } else {
    if (b.every((x, i) => x === 0 || (i === 15 && x <= 1))) return `${v} is the unspecified or loopback address`;
    if (b[0] === 0xff) return `${v} is a multicast address`;
  }
  return undefined;
}

function checkNic(v: string): string | undefined {
  if (v.includes(':')) return `${JSON.stringify(v)} holds a label: set the label with iflabel, not nic=dev:label`;
  if (!/^[A-Za-z0-9_.@+-]{1,15}$/.test(v) || v === '.' || v === '..') {
    return `${JSON.stringify(v)} is not an interface name (1–15 letters, digits and _ . @ + -)`;
  }
  return undefined;
}

function checkNetmask(v: string): string | undefined {
  if (/^\d{1,3}$/.test(v) && Number(v) <= 128) return undefined;
  if (netmaskToPrefix(v) !== undefined) return undefined;
  return `${JSON.stringify(v)} is neither a prefix length (0–128) nor a contiguous dotted netmask`;
}

function checkBroadcast(v: string): string | undefined {
  if (v === '+' || v === '-' || parseIPv4(v)) return undefined;
  return `${JSON.stringify(v)} is not an IPv4 address, "+" or "-"`;
}

const params = {
  ip: param.string({
    required: true,
    unique: true,
    shortdesc: 'The floating address (IPv4 or IPv6)',
    longdesc:
      'The address clients use, for example 192.0.2.10 or 2001:db8::10. It is added to the interface on start and removed on stop.',
    check: checkIp,
    maxLength: 45,
  }),
  nic: param.string({
    shortdesc: 'Interface to put the address on',
    longdesc:
      'The base interface (eth0, bond0, br0.100), never an alias. Left empty, it is the interface whose on-link route contains the address (ip route). Setting it, with cidr_netmask, makes start independent of the routing table; name the same interface on every node or constrain the resource to nodes that have it.',
    check: checkNic,
  }),
  cidr_netmask: param.string({
    shortdesc: 'Prefix length of the address',
    longdesc:
      'The prefix length (24, 64) or, for IPv4, a dotted netmask (255.255.255.0). Left empty, it is the prefix of the on-link route that contains the address.',
    check: checkNetmask,
    maxLength: 15,
  }),
  broadcast: param.string({
    shortdesc: 'IPv4 broadcast address',
    longdesc: 'IPv4 only. An address, "+" (all host bits set) or "-" (host bits clear). Left empty, it is derived from the prefix ("+").',
    check: checkBroadcast,
    maxLength: 15,
  }),
  iflabel: param.string({
    shortdesc: 'Label for the IPv4 address',
    longdesc: 'IPv4 only: the address gets the label NIC:IFLABEL (15 characters at most in all), as ifconfig-era tools show it.',
    check: (v) => (/^[A-Za-z0-9_.-]{1,14}$/.test(v) ? undefined : `${JSON.stringify(v)} is not a label (letters, digits, _ . -)`),
  }),
  arp_count: param.integer({
    default: 5,
    min: 0,
    max: 100,
    reloadable: true,
    shortdesc: 'Gratuitous ARP / unsolicited NA packets sent on start',
    longdesc:
      'How many announcements of each style are sent when the address comes up: for IPv4 both ARP request and ARP reply style (switches and firewalls differ in which they learn from), for IPv6 unsolicited neighbour advertisements. 0 sends none. The first of each goes out at once; the rest follow in the background.',
  }),
  arp_interval: param.integer({
    default: 1000,
    min: 1,
    max: 60000,
    reloadable: true,
    shortdesc: 'Milliseconds between announcements',
    longdesc:
      "Time between two announcements. iputils arping counts in whole seconds, so IPv4 rounds this up to the next second, and iputils older than s20190324 (RHEL 8, Debian 10) has no interval option at all: 1 s apart there. Habets arping and IPv6 (send_ua) use it as given.",
  }),
  arp_count_refresh: param.integer({
    default: 0,
    min: 0,
    max: 100,
    reloadable: true,
    shortdesc: 'Announcements sent on each monitor',
    longdesc:
      'IPv4: gratuitous ARP packets sent on every recurring monitor, so neighbours whose ARP cache kept the old node (after a split brain, or a missed burst) learn the address again. 0 sends none.',
  }),
  preferred_lft: param.string({
    default: 'forever',
    shortdesc: 'Preferred lifetime of the address',
    longdesc:
      'Passed to ip as preferred_lft: "forever" or seconds. For IPv6, 0 makes the address deprecated so that it is not chosen as a source address for outgoing connections.',
    check: (v) => (v === 'forever' || /^\d{1,10}$/.test(v) ? undefined : `${JSON.stringify(v)} is not "forever" or a number of seconds`),
    maxLength: 10,
  }),
  nodad: param.boolean({
    default: false,
    shortdesc: 'IPv6: skip duplicate address detection',
    longdesc: 'IPv6 only: add the address with nodad, so it is usable at once, without the kernel checking that no other host on the link has it.',
  }),
  noprefixroute: param.boolean({
    default: false,
    shortdesc: 'Do not add the prefix route',
    longdesc: 'Add the address with noprefixroute: the kernel does not create a route for its prefix.',
  }),
  run_arping: param.boolean({
    default: true,
    reloadable: true,
    shortdesc: 'IPv4: refuse to start when another host answers for the address',
    longdesc:
      'Before adding an IPv4 address, send an ARP probe for it from 0.0.0.0 (iputils arping -D, or Habets arping -0: start asks arping -V which one the node has; with any other arping start fails and says what to install). If any host answers within arp_dad_timeout, start fails and the exit reason names the MAC that answered: two nodes serving one address is how NFS clients end up writing to both. A probe that fails is a failed start, never a free address. IPv6 gets the same from the kernel (duplicate address detection) unless nodad is set.',
  }),
  arp_dad_timeout: param.integer({
    default: 500,
    min: 50,
    max: 5000,
    reloadable: true,
    shortdesc: 'Milliseconds to wait for an answer to the ARP probe',
    longdesc: "How long start listens for a host answering the duplicate-address probe (run_arping). Answers on a LAN take well under a millisecond. Habets' arping always listens its own second. A probe stopped before arping said it had sent it fails start.",
  }),
  check_link_status: param.boolean({
    default: true,
    reloadable: true,
    shortdesc: 'Treat an address on a down interface as failed',
    longdesc:
      'When true, monitor fails if the interface is administratively down or has no carrier (NO-CARRIER, LOWERLAYERDOWN), and start refuses such an interface: an address there answers nobody, and Pacemaker should move it. The address is never reported as stopped while it is still configured.',
  }),
  tickle_dir: param.string({
    reloadable: true,
    shortdesc: "Directory on the failover filesystem for the clients' TCP connections (tickle ACKs)",
    longdesc:
      "A directory on storage that moves with the address, such as the failover filesystem (portblock's tickle_dir, same file format). Each recurring monitor records the TCP connections clients hold to the address in TICKLE_DIR/ADDRESS, written only when they changed, fsynced. Start on the node taking over sends each of them tickle ACKs (tickle_tcp, from resource-agents), again at the first monitor: the clients of a node that died then reconnect as soon as the address is back, instead of at their next TCP retransmission, which backs off to 25, 51 and 102 s after the last answer. Empty: nothing is recorded or sent.",
    check: checkAbsolutePath,
  }),
};

type P = typeof params;
type VipCtx = Ctx<P>;

interface Target {
  readonly family: Family;
  readonly nic: string;
  readonly prefix: number;
}

function familyOfParam(ctx: VipCtx): Family {
  return familyOf(ctx.params.ip)!;
}

function configuredPrefix(ctx: VipCtx): number | undefined {
  const v = ctx.params.cidr_netmask;
  if (v === '') return undefined;
  return /^\d+$/.test(v) ? Number(v) : netmaskToPrefix(v);
}

/** This instance's node-local state (emptied at boot): SUFFIX names what it keeps. */
function instanceFile(ctx: VipCtx, suffix: 'announce' | 'tickle' | 'tickle-again'): string {
  return `${stateDir(ctx.env)}/vip-${ctx.instance.replace(/[^\w.:-]/g, '_')}.${suffix}`;
}

function announcePidFile(ctx: VipCtx): string {
  return instanceFile(ctx, 'announce');
}

/** Where the address should go: the configured nic/prefix, or the on-link route that contains it. */
async function resolveTarget(ctx: VipCtx, links: readonly IpLink[]): Promise<Target | { missing: string; code: 5 }> {
  const family = familyOfParam(ctx);
  const { ip, nic } = ctx.params;
  let prefix = configuredPrefix(ctx);
  if (nic !== '' && !links.some((l) => l.ifname === nic)) {
    return { missing: `interface ${nic} does not exist on this node`, code: OCF.ERR_INSTALLED };
  }
  if (nic !== '' && prefix !== undefined) return { family, nic, prefix };
  const routes = (await onLinkRoutes(ctx.run, family, ip)).filter((r) => nic === '' || r.dev === nic);
  let best: { dev: string; len: number } | undefined;
  for (const r of routes) {
    const [net, lenText] = r.dst.includes('/') ? r.dst.split('/') : [r.dst, String(maxPrefix(family))];
    const len = Number(lenText);
    if (!net || !inPrefix(ip, net, len)) continue;
    if (!best || len > best.len) best = { dev: r.dev, len };
  }
  if (!best) {
    const which = nic === '' && prefix === undefined ? 'nic and cidr_netmask' : nic === '' ? 'nic' : 'cidr_netmask';
    const where = nic === '' ? '' : ` through ${nic}`;
    return {
      missing: `no on-link route on this node contains ${ip}${where}, so the ${which} cannot be derived: set ${which}`,
      code: OCF.ERR_INSTALLED,
    };
  }
  prefix ??= best.len;
  return { family, nic: nic || best.dev, prefix };
}

/** Where the address is now: on the configured interface if there is one, anywhere otherwise. */
function ownPlacements(ctx: VipCtx, links: readonly IpLink[]): { mine: Placement[]; elsewhere: Placement[] } {
  const all = findAddress(links, ctx.params.ip);
  const nic = ctx.params.nic;
  if (nic === '') return { mine: all, elsewhere: [] };
  return { mine: all.filter((p) => p.link.ifname === nic), elsewhere: all.filter((p) => p.link.ifname !== nic) };
}

async function addresses(ctx: VipCtx): Promise<IpLink[]> {
  try {
    return await showAddresses(ctx.run);
  } catch (e) {
    if (e instanceof OcfError) throw e;
    throw fail.generic(`cannot read the addresses of this node: ${(e as Error).message}`);
  }
}

function placementProblem(ctx: VipCtx, p: Placement): string | undefined {
  const want = configuredPrefix(ctx);
  const where = `${ctx.params.ip}/${p.addr.prefixlen} on ${p.link.ifname}`;
  if (want !== undefined && p.addr.prefixlen !== want) return `${where} has prefix /${p.addr.prefixlen}, but cidr_netmask is /${want}`;
  if (p.addr.dadfailed) return `${where} failed duplicate address detection: another host on the link has it`;
  if (ctx.params.check_link_status) {
    const down = linkProblem(p.link);
    if (down) return `${where} is configured but not serving: ${down}`;
  }
  return undefined;
}

const ARPING_NEEDED = 'iputils arping (iputils-arping on Debian and Ubuntu, iputils on RHEL and SUSE) or Habets arping 2.x';

const arpingAsked = new WeakMap<VipCtx, Promise<Arping | string>>();

/** Which arping this node has (asked once an action), or why it cannot be used. */
function whichArping(ctx: VipCtx): Promise<Arping | string> {
  let asked = arpingAsked.get(ctx);
  if (!asked) {
    asked = ctx.run(VERSION_ARGV, { timeoutMs: 3000 }).then((r) => {
      if (r.spawnError) return `arping is not installed (${r.spawnError}): ${ARPING_NEEDED} is needed`;
      return arpingKind(`${r.stdout}\n${r.stderr}`) ?? `the arping on this node is not one ocfkit knows (${describe(r)}): ${ARPING_NEEDED} is needed`;
    });
    arpingAsked.set(ctx, asked);
  }
  return asked;
}

/** How long a started announcement is watched for failing at once (a usage error, a missing interface). */
const ANNOUNCE_WATCH_MS = 100;
/**
 * arping's watch: it ends when arping prints its first line ("ARPING <ip> from …"), which it does
 * once the interface is set up and before the first packet, so an arping slow to fail on a loaded
 * node is still seen failing. stdbuf (coreutils) makes that line reach us at once: arping's stdout
 * to a file is otherwise written only at its exit.
 */
const ARPING_WATCH_MS = 1000;
const arpingStarted = (stdout: string) => /^ARPING /m.test(stdout);

async function announce(ctx: VipCtx, t: Target, count: number, why: string): Promise<void> {
  if (count <= 0) return;
  const { ip, arp_interval: interval } = ctx.params;
  let arping: Arping | undefined;
  if (t.family === 4) {
    const a = await whichArping(ctx);
    if (typeof a === 'string') {
      ctx.log.warn(`not announcing ${ip} (${why}): ${a}`);
      return;
    }
    arping = a;
  }
  const argvs = arping
    ? [announceArgv(arping, 'request', t.nic, ip, count, interval), announceArgv(arping, 'reply', t.nic, ip, count, interval)]
    : ctx.haveBinary(SEND_UA)
      ? [[SEND_UA, '-i', String(interval), '-c', String(count), ip, String(t.prefix), t.nic]]
      : [];
  if (argvs.length === 0) {
    ctx.log.warn(`not announcing ${ip} (${why}): ${SEND_UA} (resource-agents) is not installed; neighbours learn ${ip} only from the kernel's own DAD and solicitations`);
    return;
  }
  const lineBuffered = arping !== undefined && ctx.haveBinary('stdbuf');
  const started = await Promise.all(argvs.map((argv) => (lineBuffered ? spawnDetached(['stdbuf', '-oL', ...argv], ARPING_WATCH_MS, arpingStarted) : spawnDetached(argv, ANNOUNCE_WATCH_MS))));
  const pids: number[] = [];
  started.forEach((r, i) => {
    const shown = commandLine(argvs[i]!);
    if (!r.pid) ctx.log.warn(`announcing ${ip} (${why}) failed: \`${shown}\` could not be started (${r.error})`);
    else if (r.ended && (arping ? announceFailed(arping, r.ended.code, r.ended.stderr) : r.ended.code !== 0)) {
      const said = (r.ended.stderr.trim() || r.ended.stdout.trim()).split('\n').slice(0, 2).join(' / ');
      ctx.log.warn(`announcing ${ip} (${why}) failed: \`${shown}\` exited ${r.ended.code ?? 'on a signal'}${said ? `: ${said}` : ''}`);
    } else pids.push(r.pid);
  });
  recordPids(announcePidFile(ctx), pids);
  if (pids.length === 0) return;
  const slow = arping?.kind === 'iputils' && !arping.interval && interval !== 1000 ? `, 1 s apart (${arpingName(arping)} has no -i for arp_interval)` : '';
  ctx.log.info(`announcing ${ip} on ${t.nic} (${why}) with ${arping ? arpingName(arping) : SEND_UA}, ${count} of each style${slow} (pids ${pids.join(' ')})`);
}

function endAnnouncements(ctx: VipCtx): void {
  const ip = ctx.params.ip;
  endRecorded(announcePidFile(ctx), (argv) => (argv[0]?.endsWith('arping') || argv[0] === SEND_UA) && argv.includes(ip));
}

const TICKLES_PER_CONNECTION = 3;

/** A budget for one command on the failover filesystem, which may be frozen: the action must still answer. */
function sharedFsBudget(ctx: VipCtx, most: number, reserveMs = 3000): number {
  return Math.max(500, Math.min(most, ctx.deadline.remaining() - reserveMs));
}

function tickleFile(ctx: VipCtx): string {
  return `${ctx.params.tickle_dir}/${ctx.params.ip}`;
}

/**
 * Monitor: the clients' connections to the address into TICKLE_DIR/ADDRESS, when they changed since
 * this node last wrote them. Processes with deadlines write it (dd conv=fsync, then mv): the
 * filesystem may be frozen, and a monitor that hangs on it would fail an address that works.
 */
async function recordConnections(ctx: VipCtx): Promise<void> {
  const { ip, tickle_dir: dir } = ctx.params;
  const record = tickleRecord(ip, readProcNetTcp());
  const mine = instanceFile(ctx, 'tickle');
  const last = readNote(mine);
  if (last === record) return;
  const file = tickleFile(ctx);
  const tmp = `${dir}/.${ip}.new`;
  const w = await ctx.run(['dd', `of=${tmp}`, 'conv=fsync', 'status=none'], { input: record, timeoutMs: sharedFsBudget(ctx, 5000) });
  const m = w.code === 0 ? await ctx.run(['mv', '-f', '-T', '--', tmp, file], { timeoutMs: sharedFsBudget(ctx, 5000) }) : undefined;
  if (m?.code !== 0) {
    // Said once, until a write works again: not at every monitor.
    if (last !== '!failed') {
      ctx.log.warn(`could not record the clients' connections to ${ip} in ${file} (${describe(m ?? w)}): after a failover they reconnect only at their next TCP retransmission`);
    }
    writeNote(mine, '!failed');
    return;
  }
  writeNote(mine, record);
  const n = record === '' ? 0 : record.split('\n').length - 1;
  ctx.log.info(`recorded ${n} client connection(s) to ${ip} in ${file}, for the tickle ACKs of the node that takes the address over`);
}

async function sendTickles(ctx: VipCtx, lines: readonly string[], when: string): Promise<void> {
  const { ip } = ctx.params;
  const r = await ctx.run(tickleArgv(TICKLES_PER_CONNECTION), { input: `${lines.join('\n')}\n`, timeoutMs: sharedFsBudget(ctx, 3000, 2000) });
  if (r.code !== 0) {
    ctx.log.warn(`tickle ACKs to ${lines.length} client connection(s) of ${ip} (${when}) failed: ${describe(r)}`);
    return;
  }
  ctx.log.info(`sent tickle ACKs to ${lines.length} client connection(s) that ${ip} had on the node before (${when}): they reconnect now, not at their next TCP retransmission`);
}

/**
 * Start: tickle ACKs to the connections the previous node recorded. The first monitor sends them
 * again: the client answers a tickle at the address's link-layer address in its ARP cache, which
 * the announcements started just before may not have replaced yet.
 */
async function tickleRecorded(ctx: VipCtx): Promise<void> {
  const { ip } = ctx.params;
  // This node's own list starts afresh: its first monitor overwrites the previous node's.
  removeNote(instanceFile(ctx, 'tickle'));
  const file = tickleFile(ctx);
  if (!ctx.haveBinary(TICKLE_TCP)) {
    ctx.log.warn(`not sending tickle ACKs: ${TICKLE_TCP} (resource-agents) is not installed; clients reconnect at their next TCP retransmission`);
    return;
  }
  const r = await ctx.run(['cat', '--', file], { timeoutMs: sharedFsBudget(ctx, 3000) });
  if (r.code !== 0) {
    if (/No such file/.test(r.stderr)) ctx.log.info(`no client connections recorded in ${file}: no tickle ACKs to send`);
    else ctx.log.warn(`could not read the clients' connections to ${ip} from ${file}: ${describe(r)}`);
    return;
  }
  const lines = tickleLines(ip, r.stdout);
  if (lines.length === 0) return;
  await sendTickles(ctx, lines, 'address just added');
  writeNote(instanceFile(ctx, 'tickle-again'), `${lines.join('\n')}\n`);
}

async function tickleAgainAndRecord(ctx: VipCtx): Promise<void> {
  const again = instanceFile(ctx, 'tickle-again');
  const pending = readNote(again);
  if (pending !== undefined) {
    removeNote(again);
    const lines = tickleLines(ctx.params.ip, pending);
    if (lines.length > 0 && ctx.haveBinary(TICKLE_TCP)) await sendTickles(ctx, lines, 'again, at the first monitor');
  }
  await recordConnections(ctx);
}

async function monitor(ctx: VipCtx) {
  if (!ctx.haveBinary('ip')) {
    if (ctx.probe) return OCF.NOT_RUNNING;
    throw fail.installed('ip (iproute2) is not installed');
  }
  const links = await addresses(ctx);
  const { mine, elsewhere } = ownPlacements(ctx, links);
  const here = mine[0];
  if (!here) {
    // Configured on another interface of this host: it answers, so it is not "stopped" here.
    const other = elsewhere[0];
    if (other) throw fail.generic(`${ctx.params.ip} is configured on ${other.link.ifname}, not on ${ctx.params.nic}`);
    return OCF.NOT_RUNNING;
  }
  const problem = placementProblem(ctx, here);
  if (problem) throw fail.generic(problem);
  if (here.addr.tentative) ctx.log.info(`${ctx.params.ip} on ${here.link.ifname} is still tentative (duplicate address detection running)`);
  if (!ctx.probe && ctx.params.arp_count_refresh > 0) {
    await announce(ctx, { family: familyOfParam(ctx), nic: here.link.ifname, prefix: here.addr.prefixlen }, ctx.params.arp_count_refresh, 'arp_count_refresh');
  }
  if (!ctx.probe && ctx.params.tickle_dir !== '') await tickleAgainAndRecord(ctx);
  return OCF.SUCCESS;
}

async function detectDuplicate(ctx: VipCtx, t: Target): Promise<void> {
  const a = await whichArping(ctx);
  if (typeof a === 'string') throw fail.installed(`cannot probe for a duplicate of ${ctx.params.ip} (run_arping=true): ${a}`);
  let r = await ctx.run(dadArgv(a, t.nic, ctx.params.ip), { timeoutMs: dadWindowMs(a, ctx.params.arp_dad_timeout), graceMs: 100 });
  if (r.spawnError) throw fail.installed(`arping is needed for run_arping=true: ${describe(r)}`);
  let v = dadVerdict(a, r);
  if ('failed' in v && r.timedOut && !saidSent(r.stdout)) {
    // On a loaded node arping can take longer than the window just to start (seen in a loaded
    // guest): once more, with the time arping's own -w 1 takes and a second to start.
    ctx.log.warn(`arping had not sent its probe for ${ctx.params.ip} within ${ctx.params.arp_dad_timeout} ms (a loaded node?): probing again with ${arpingName(a)}'s own 1 s window`);
    r = await ctx.run(dadArgv(a, t.nic, ctx.params.ip), { timeoutMs: Math.max(ctx.params.arp_dad_timeout, 1000) + 1000, graceMs: 100 });
    v = dadVerdict(a, r);
  }
  if ('taken' in v) {
    throw fail.generic(`${ctx.params.ip} is already in use on ${t.nic}: ${v.taken.mac} answered the ARP probe; not adding it twice`);
  }
  if ('failed' in v) throw fail.generic(`duplicate address probe for ${ctx.params.ip} failed (${v.failed}): ${describe(r)}`);
  ctx.log.debug(`no host answered the ARP probe for ${ctx.params.ip} on ${t.nic} (${arpingName(a)})`);
}

async function waitForDad(ctx: VipCtx, t: Target): Promise<void> {
  await ctx.deadline.poll(`waiting for IPv6 duplicate address detection of ${ctx.params.ip}`, 100, async () => {
    const links = await showAddresses(ctx.run, 6);
    const p = findAddress(links, ctx.params.ip).find((x) => x.link.ifname === t.nic);
    if (!p) throw fail.generic(`${ctx.params.ip} vanished from ${t.nic} during duplicate address detection`);
    if (p.addr.dadfailed) {
      await ctx.run(delArgv(6, ctx.params.ip, p.addr.prefixlen, t.nic));
      throw fail.generic(`${ctx.params.ip} failed IPv6 duplicate address detection on ${t.nic}: another host on the link has it; removed it again`);
    }
    return p.addr.tentative ? undefined : true;
  });
}

async function start(ctx: VipCtx) {
  if (!ctx.haveBinary('ip')) throw fail.installed('ip (iproute2) is not installed');
  const links = await addresses(ctx);
  const t = await resolveTarget(ctx, links);
  if ('missing' in t) throw new OcfError(t.code, t.missing);
  const { ip } = ctx.params;
  const { mine, elsewhere } = ownPlacements(ctx, links);
  const other = [...elsewhere, ...mine].find((p) => p.link.ifname !== t.nic);
  if (other) throw fail.generic(`${ip} is already configured on ${other.link.ifname}; expected it only on ${t.nic}`);
  const present = mine.find((p) => p.link.ifname === t.nic);
  if (present) {
    if (present.addr.prefixlen !== t.prefix) {
      throw fail.generic(`${ip}/${present.addr.prefixlen} is already on ${t.nic}, but the configuration wants /${t.prefix}`);
    }
    const problem = placementProblem(ctx, present);
    if (problem) throw fail.generic(problem);
    ctx.log.info(`${ip}/${t.prefix} is already on ${t.nic}`);
    return OCF.SUCCESS;
  }
  const link = links.find((l) => l.ifname === t.nic)!;
  if (ctx.params.check_link_status) {
    const down = linkProblem(link);
    if (down) throw fail.generic(`not adding ${ip}: ${down}`);
  }
  if (t.prefix !== maxPrefix(t.family) && ctx.isSet('cidr_netmask') && isNetworkOrBroadcast(ip, t.prefix)) {
    throw fail.configured(`${ip} is the network or broadcast address of its /${t.prefix}`);
  }
  if (t.family === 4 && ctx.params.run_arping) await detectDuplicate(ctx, t);

  const label = ctx.params.iflabel === '' ? undefined : `${t.nic}:${ctx.params.iflabel}`;
  if (label && label.length > 15) throw fail.configured(`label ${label} is longer than 15 characters: shorten iflabel`);
  const add = await ctx.run(
    addArgv({
      family: t.family,
      address: ip,
      prefix: t.prefix,
      dev: t.nic,
      broadcast: t.family === 4 ? ctx.params.broadcast || '+' : undefined,
      label,
      preferredLft: ctx.params.preferred_lft,
      nodad: ctx.params.nodad,
      noprefixroute: ctx.params.noprefixroute,
    }),
  );
  if (add.code !== 0) {
    if (/Operation not permitted/i.test(add.stderr)) throw fail.perm(`not allowed to add ${ip}: ${describe(add)}`);
    // Added by someone else between our look and our add: fine if it is now there as configured.
    const again = findAddress(await addresses(ctx), ip).find((p) => p.link.ifname === t.nic && p.addr.prefixlen === t.prefix);
    if (!again) throw fail.generic(`could not add ${ip}/${t.prefix} to ${t.nic}: ${describe(add)}`);
  }
  ctx.log.info(`added ${ip}/${t.prefix} to ${t.nic}`);
  if (t.family === 6 && !ctx.params.nodad) await waitForDad(ctx, t);
  await announce(ctx, t, ctx.params.arp_count, 'just added');
  if (ctx.params.tickle_dir !== '') await tickleRecorded(ctx);
  return OCF.SUCCESS;
}

/** Removes the address wherever this configuration could have put it; succeeds when it is gone. */
async function removeAddress(ctx: VipCtx, ip: string, nic: string): Promise<void> {
  const family = familyOf(ip)!;
  const links = await addresses(ctx);
  const found = findAddress(links, ip).filter((p) => nic === '' || p.link.ifname === nic);
  for (const p of found) {
    const r = await ctx.run(delArgv(family, ip, p.addr.prefixlen, p.link.ifname));
    if (r.code !== 0) {
      const still = findAddress(await addresses(ctx), ip).some((q) => q.link.ifname === p.link.ifname);
      if (still) {
        if (/Operation not permitted/i.test(r.stderr)) throw fail.perm(`not allowed to remove ${ip}: ${describe(r)}`);
        throw fail.generic(`could not remove ${ip}/${p.addr.prefixlen} from ${p.link.ifname}: ${describe(r)}`);
      }
    }
    ctx.log.info(`removed ${ip}/${p.addr.prefixlen} from ${p.link.ifname}`);
  }
  const left = findAddress(await addresses(ctx), ip).filter((p) => nic === '' || p.link.ifname === nic);
  if (left.length > 0) throw fail.generic(`${ip} is still on ${left.map((p) => p.link.ifname).join(', ')} after removing it`);
}

async function stop(ctx: VipCtx) {
  endAnnouncements(ctx);
  await removeAddress(ctx, ctx.params.ip, ctx.params.nic);
  for (const f of ['tickle', 'tickle-again'] as const) removeNote(instanceFile(ctx, f));
  return OCF.SUCCESS;
}

export const vip = defineAgent({
  name: 'vip',
  version: '0.1.0',
  shortdesc: 'Floating IP address (IPv4 or IPv6) with link and duplicate checks',
  longdesc:
    'Adds and removes one floating address. Unlike IPaddr2, monitor reports failure when the interface is down or has no carrier (check_link_status), start refuses when another host already answers for the address (run_arping), and both ARP request and reply style announcements are sent. Parameter names follow ocf:heartbeat:IPaddr2.',
  examples: [
    {
      why: 'The floating address of an NFS service on eth0; pcs resource describe lists every parameter.',
      lines: ['pcs resource create nfs-ip ocf:ocfkit:vip ip=192.0.2.10 cidr_netmask=24 nic=eth0 \\', '    op monitor interval=10s'],
    },
    {
      why: 'By hand on a node, as Pacemaker runs it: the exit code is the OCF code.',
      lines: ['OCF_RESKEY_ip=192.0.2.10 OCF_RESKEY_nic=eth0 /usr/lib/ocf/resource.d/ocfkit/vip monitor; echo $?'],
    },
  ],
  params,
  actions: {
    start: { meta: [{ timeout: 20 }], run: start },
    stop: { meta: [{ timeout: 20 }], run: stop },
    monitor: { meta: [{ timeout: 20, interval: 10, depth: 0 }], run: monitor },
    // Every reloadable parameter is read afresh by each action: there is nothing to re-apply.
    'reload-agent': { meta: [{ timeout: 20 }], run: async () => OCF.SUCCESS },
  },
  validate(ctx) {
    const family = familyOfParam(ctx);
    const prefix = configuredPrefix(ctx);
    if (prefix !== undefined && prefix > maxPrefix(family)) {
      throw fail.configured(`cidr_netmask /${prefix} is out of range for IPv${family} (0–${maxPrefix(family)})`);
    }
    if (family === 6 && ctx.params.cidr_netmask.includes('.')) throw fail.configured('a dotted netmask only applies to IPv4: give a prefix length');
    if (family === 6 && ctx.params.broadcast !== '') throw fail.configured('broadcast only applies to IPv4 addresses');
    if (family === 6 && ctx.params.iflabel !== '') throw fail.configured('iflabel only applies to IPv4 addresses');
    if (ctx.params.nic !== '' && ctx.params.iflabel !== '' && ctx.params.nic.length + 1 + ctx.params.iflabel.length > 15) {
      throw fail.configured(`label ${ctx.params.nic}:${ctx.params.iflabel} is longer than 15 characters`);
    }
    if (prefix !== undefined && prefix < maxPrefix(family) && isNetworkOrBroadcast(ctx.params.ip, prefix)) {
      throw fail.configured(`${ctx.params.ip} is the network or broadcast address of /${prefix}`);
    }
    if (family === 6 && /^fe[89ab]/i.test(ctx.params.ip) && ctx.params.nic === '') {
      throw fail.configured('a link-local IPv6 address needs nic');
    }
  },
  async validateHost(ctx) {
    const tickle = ctx.params.tickle_dir !== '' ? [TICKLE_TCP] : [];
    const arping = familyOfParam(ctx) === 4 && (ctx.params.run_arping || ctx.params.arp_count > 0 || ctx.params.arp_count_refresh > 0);
    for (const bin of ['ip', ...(arping ? ['arping'] : []), ...tickle]) {
      if (!ctx.haveBinary(bin)) throw fail.installed(`${bin} is not installed on this node`);
    }
    if (arping) {
      const a = await whichArping(ctx);
      if (typeof a === 'string') throw fail.installed(a);
      if (a.kind === 'iputils' && !a.interval && ctx.params.arp_interval !== 1000) {
        ctx.log.warn(`${arpingName(a)} has no -i: announcements go out 1 s apart, not every ${ctx.params.arp_interval} ms (arp_interval); iputils s20190324 or later has it`);
      }
    }
    const t = await resolveTarget(ctx, await addresses(ctx));
    if ('missing' in t) throw new OcfError(t.code, t.missing);
  },
  async stopWhenInvalid(ctx, problems) {
    const { ip, nic } = ctx.params;
    // The address itself is still known: remove it, so a stop never leaves it answering.
    if (checkIp(ip) === undefined && (nic === '' || checkNic(nic) === undefined) && ctx.haveBinary('ip')) {
      ctx.log.warn(`stop with invalid parameters (${problems.map((p) => `${p.param} ${p.message}`).join('; ')}): removing ${ip} anyway`);
      endAnnouncements(ctx);
      await removeAddress(ctx, ip, nic);
      return OCF.SUCCESS;
    }
    ctx.log.warn('stop with an invalid address: nothing this configuration could have added');
    return OCF.SUCCESS;
  },
});
