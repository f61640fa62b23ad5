/**
 * Two sites in the lab (issue 17's proof): node1 is site a and node2 site b, each its own one-node
 * Pacemaker cluster (`lab.sh sites`), DRBD r0 between them on the replication link without fencing
 * (the peer is in the other cluster), each site's stack from `ocfkit stack apply --site`, bound to
 * ticket-nfs. The client writes through the floating address, which either site brings up on the
 * shared link. The site test's (test/lab/site.test.ts) setup and readings, kept free of the test
 * framework: a harness failure throws, and what the product did (exit codes, output, records) is
 * returned for the caller to judge. (bench/lab-site.ts runs that test and keeps its timings.)
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DRBD_LAB, type Node, type Result, labDir, labExec, labOk, labSh, labShOk, root, waitFor } from './host';
import { type Acks, DIR, VIP, changeCib, longestGap, parseAcks, placement, prepareDrbd, round1, startClient, watch } from './stack';

export type SiteName = 'a' | 'b';
export const SITE_NODE: Record<SiteName, Node> = { a: 'node1', b: 'node2' };
export const TICKET = 'ticket-nfs';
/** The configuration both sites read (the same file at each, as the runbook, docs/site-dr.md, has it). */
export const SITES = {
  sites: { a: { nodes: ['node1'], fencing: 'none' }, b: { nodes: ['node2'], fencing: 'none' } },
  services: [
    {
      name: 'nfs', drbd_resource: 'r0', device: '/dev/drbd0', directory: DIR, fstype: 'ext4', ip: `${VIP}/24`, nic: 'eth0',
      clients: ['192.0.2.0/24'], export_options: 'rw,sync,no_subtree_check,no_root_squash', fsid: 'root',
      nfs_shared_infodir: `${DIR}/.nfs-state`, nfsv4_lease_time: 10,
      // The application the site test's key-value client writes to (KV below), on the replicated filesystem.
      application: { agent: 'ocf:heartbeat:anything', options: { binfile: '/usr/bin/redis-server', cmdline_options: '/lab/site/redis.conf' } },
    },
  ],
};
/**
 * The application: redis-server from Debian's package, its append-only log on the replicated
 * filesystem, fsynced before every answer (appendfsync always), so a record redis acknowledged is on
 * DRBD; plain RESP in the log (no RDB preamble), so a salvaged copy is read with grep.
 */
export const KV = { port: 6379, aofDir: 'redis-aof', ack: '/tmp/kv.ack' };
const REDIS_CONF = `bind 0.0.0.0
protected-mode no
port ${KV.port}
daemonize no
dir ${DIR}
appendonly yes
appendfsync always
appenddirname ${KV.aofDir}
aof-use-rdb-preamble no
save ""
logfile /tmp/redis.log
`;
/**
 * Booth mode (scenario 5): each site's booth address on the shared link (the booth-ip resource
 * brings it up at the site), the client as arbitrator, the shortest expiry booth.conf allows.
 */
export const BOOTH = { sites: { a: '192.0.2.21', b: '192.0.2.22' }, arbitrator: '192.0.2.13', expire: 30, nic: 'eth0' };
/** In the guests (the lab share); on the host it is under $LAB_DIR/run/share. */
export const SITES_CONF = '/lab/site/stack.json';
const hostSiteDir = () => join(labDir, 'run', 'share', 'site');

/** `ocfkit site ARGS --config …` in NODE: the operator's command at that site. */
export function site(node: Node, args: string[], timeoutS = 420): Result {
  return labExec(node, ['/opt/ocfkit/ocfkit', 'site', ...args, '--config', SITES_CONF], timeoutS);
}

/**
 * A change to site S's configuration: HOSTCMD runs on the host against a copy of the site's live CIB
 * and the difference goes to the site in one change (stack.ts, changeCib).
 */
function changeSite(s: SiteName, what: string, hostCmd: readonly string[]): string {
  return changeCib(SITE_NODE[s], `site-${s}`, `${what} at site ${s}`, hostCmd);
}

/** Site S's stack, planned by the host's ocfkit against a copy of NODE's CIB, pushed in one change. */
export function applySite(s: SiteName): string {
  return changeSite(s, 'ocfkit stack apply', [join(root, 'dist', 'ocfkit'), 'stack', 'apply', '--config', join(hostSiteDir(), 'stack.json'), '--site', s, '--cib']);
}

/** Whether site S's cluster holds the ticket (crm_ticket's answer on its node). */
export function granted(s: SiteName): boolean {
  const r = labExec(SITE_NODE[s], ['crm_ticket', '--ticket', TICKET, '--get-attr', 'granted'], 60);
  return r.status === 0 && r.stdout.trim() === 'true';
}

/** The site's whole stack runs on its node (crm_mon there). */
export function servedAt(s: SiteName): boolean {
  const n = SITE_NODE[s];
  const p = placement(n);
  return p.promoted === n && p.fs === n && p.exp === n && p.ip === n && p.app === n;
}

/** The key-value client starts pushing records to the application through the floating address (guest/kv-writer). */
export function startKv(): void {
  const r = labSh('client', `rm -f "$2"; setsid python3 /lab/bin/kv-writer "$1" ${KV.port} "$2" /tmp/stop-writers </dev/null >/tmp/kv.out 2>&1 &
for _ in $(seq 1 100); do grep -q '^[0-9]' "$2" 2>/dev/null && exit 0; sleep 0.2; done; cat "$2" /tmp/kv.out; exit 1`, [VIP, KV.ack], 120);
  if (r.status !== 0) throw new Error(`the key-value client did not start writing:\n${r.out}`);
}

/** What the key-value client saw acknowledged (its RETRY lines are the failovers it rode out, not errors). */
export function kvAcks(): Acks {
  const r = labExec('client', ['cat', KV.ack], 60);
  if (r.status !== 0) throw new Error(`reading the key-value client's log failed:\n${r.out}`);
  return parseAcks(r.stdout);
}

/** Waits until the key-value client has MORE records acknowledged past what it had: the application answers. */
export function kvProgress(more = 10, timeoutS = 300): void {
  const base = kvAcks().acked.length;
  watch(`the key-value client to have ${more} more records acknowledged`, timeoutS, () => kvAcks().acked.length >= base + more, 3);
}

/** The records the application serving now holds, asked through the floating address, as a client would. */
export function kvStored(): Set<number> {
  const r = labExec('client', ['redis-cli', '-h', VIP, '-p', String(KV.port), '--raw', 'LRANGE', 'records', '0', '-1'], 120);
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  if (r.status !== 0 || lines.some((l) => !/^\d+$/.test(l))) throw new Error(`redis-cli LRANGE through ${VIP} exited ${r.status}:\n${r.out.slice(0, 2000)}`);
  return new Set(lines.map(Number));
}

/** The acknowledged records the application serving now does not have. */
export function kvLost(): { acked: number; lost: number[] } {
  const acked = kvAcks().acked;
  const stored = kvStored();
  return { acked: acked.length, lost: acked.filter((n) => !stored.has(n)) };
}

/** The client's longest pause between two acknowledged records from the FROMth on (s). */
export const kvPause = (from: number) => round1(longestGap(kvAcks(), from));

/** The records in the application's log under DIR on NODE (a salvaged copy): every pushed number, from the RESP text. */
export function kvInLog(node: Node, dir: string): Set<number> {
  const text = labShOk(node, 'cat "$1"/*.aof', [`${dir}/${KV.aofDir}`], 120);
  return new Set([...text.matchAll(/RPUSH\r?\n\$7\r?\nrecords\r?\n\$\d+\r?\n(\d+)/g)].map((m) => Number(m[1])));
}

export function waitServedAt(s: SiteName, timeoutS = 420): void {
  watch(`site ${s}'s stack running on ${SITE_NODE[s]}`, timeoutS, () => servedAt(s), 5);
}

/** DRBD's role on each node that answers: a node whose qemu is gone counts as nothing. */
export function roles(nodes: readonly Node[] = ['node1', 'node2']): Partial<Record<Node, string>> {
  const out: Partial<Record<Node, string>> = {};
  for (const n of nodes) {
    const r = labSh(n, 'drbdadm role r0 2>/dev/null || echo Unconfigured', [], 30);
    if (r.status === 0) out[n] = r.stdout.trim().split('/')[0] ?? '';
  }
  return out;
}

export const primaries = (nodes?: readonly Node[]) => Object.entries(roles(nodes)).filter(([, r]) => r === 'Primary').map(([n]) => n);

/** `ocfkit site status --json` at S, parsed. */
export function siteStatus(s: SiteName): Array<Record<string, unknown>> {
  const r = site(SITE_NODE[s], ['status', '--json'], 120);
  if (r.status !== 0) throw new Error(`site status at ${s} exited ${r.status}:\n${r.out}`);
  return JSON.parse(r.stdout) as Array<Record<string, unknown>>;
}

/**
 * From guests that answer and DRBD r0 made: r0 synced without fencing and down; both sites' clusters
 * online; both stacks applied; the ticket granted to site a and its stack running; the client writing.
 */
export function prepareSites(): { applied: Record<SiteName, string> } {
  prepareDrbd(false);
  labOk(['sites'], 900);
  mkdirSync(hostSiteDir(), { recursive: true });
  writeFileSync(join(hostSiteDir(), 'stack.json'), `${JSON.stringify(SITES, null, 1)}\n`);
  writeFileSync(join(hostSiteDir(), 'redis.conf'), REDIS_CONF);
  const applied = { a: applySite('a'), b: applySite('b') };
  // Without the ticket neither site promotes: DRBD runs Unpromoted at both.
  waitFor('DRBD Secondary and connected at both sites', 300, () => {
    const r = roles();
    return r.node1 === 'Secondary' && r.node2 === 'Secondary' && labShOk('node1', 'drbdadm cstate r0', [], 30).trim() === 'Connected';
  }, 5);
  labShOk('node1', 'crm_ticket --ticket "$1" --grant --force', [TICKET], 60);
  waitServedAt('a');
  startClient();
  startKv();
  return { applied };
}

let boothMode = false;

/** /etc/booth/booth.conf in NODE from the share (written once by `ocfkit stack booth-conf`). */
function installBoothConf(node: Node): void {
  labShOk(node, 'mkdir -p /etc/booth && cp /lab/site/booth.conf /etc/booth/booth.conf', [], 30);
}

/** Booth's view at NODE (`booth list`): the leader's address for the ticket, or NONE. */
export function boothLeader(node: Node): string {
  const r = labExec(node, ['booth', 'list'], 60);
  return /ticket: ticket-nfs, leader: ([^,\s]+)/.exec(r.stdout)?.[1] ?? `(booth list exited ${r.status}: ${r.out.trim()})`;
}

/**
 * Both sites switched to booth mode while site SERVING serves: the configuration gains booth; the
 * product's booth.conf goes to both sites and the arbitrator (the client), where boothd starts
 * alone; each site's plan is applied again from the new configuration, one `ocfkit stack apply`
 * that adds only its booth group (address and boothd), the rest as it was; then booth takes over
 * the ticket by a grant to the serving site, as an operator would start it.
 */
export function switchToBooth(serving: SiteName): void {
  const dir = hostSiteDir();
  const conf = { ...SITES, booth: BOOTH };
  writeFileSync(join(dir, 'stack.json'), `${JSON.stringify(conf, null, 1)}\n`);
  const bc = spawnSync(join(root, 'dist', 'ocfkit'), ['stack', 'booth-conf', '--config', join(dir, 'stack.json'), '--site', 'a'], { encoding: 'utf8', timeout: 60_000 });
  if (bc.status !== 0) throw new Error(`ocfkit stack booth-conf exited ${bc.status}:\n${bc.stdout}${bc.stderr}`);
  writeFileSync(join(dir, 'booth.conf'), bc.stdout);
  boothMode = true;
  for (const n of ['node1', 'node2', 'client'] as const) installBoothConf(n);
  labShOk('client', 'setsid boothd daemon -c /etc/booth/booth.conf </dev/null >/dev/null 2>&1', [], 60);
  for (const s of ['a', 'b'] as const) {
    const out = applySite(s);
    // Booth mode adds the booth group and nothing else: the stack serving at one site stays as it is.
    const changed = out.split('\n').filter((l) => /^(create|change) /.test(l));
    if (changed.join('\n') !== 'create resource booth') throw new Error(`switching site ${s} to booth changed more than its booth group:\n${out}`);
  }
  waitFor("boothd running at both sites (their booth groups started)", 300, () => (['node1', 'node2'] as const).every((n) => labSh(n, 'pidof boothd', [], 30).status === 0), 5);
  // boothd starts from the CIB's tickets: a ticket granted here by hand is one booth already holds
  // ("You're granting a granted ticket"). Otherwise the operator's first grant.
  const leader = () => boothLeader('node1') === BOOTH.sites[serving] && boothLeader('node2') === BOOTH.sites[serving];
  try {
    waitFor(`booth to take over ${TICKET} from the CIB at site ${serving}`, 60, leader, 5);
  } catch {
    labShOk(SITE_NODE[serving], 'booth grant -s "$1" "$2"', [BOOTH.sites[serving], TICKET], 120);
  }
  waitFor(`booth's leader for ${TICKET} to be site ${serving}, seen at both sites`, 180, leader, 5);
}

/** Site S powered on again after a kill: its DRBD configuration (a guest keeps nothing but its disk), then its cluster. */
export function powerOn(s: SiteName): void {
  const n = SITE_NODE[s];
  labOk(['start', n], 400);
  labOk(['exec', n, 'bash', DRBD_LAB, 'config'], 120);
  if (boothMode) installBoothConf(n);
  labOk(['sites'], 900);
}

