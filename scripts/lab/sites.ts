/**
 * Two sites in the lab (issue 17's proof): node1 is site a and node2 site b, each its own one-node
 * Pacemaker cluster (`lab.sh sites`), DRBD r0 between them on the replication link without fencing
 * (the peer is in the other cluster), each site's stack from `ocfkit stack apply --site`, bound to
 * ticket-nfs. The client writes through the floating address, which either site brings up on the
 * shared link. The site test's (test/lab/site.test.ts) setup and readings, kept free of the test
 * framework for a bench part to drive later: a harness failure throws, and what the product did
 * (exit codes, output, records) is returned for the caller to judge.
 */
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DRBD_LAB, type Node, type Result, labDir, labExec, labOk, labSh, labShOk, root, waitFor } from './host';
import { DIR, VIP, placement, prepareDrbd, startClient, watch } from './stack';

export type SiteName = 'a' | 'b';
export const SITE_NODE: Record<SiteName, Node> = { a: 'node1', b: 'node2' };
export const TICKET = 'ticket-nfs';
/** The configuration both sites read (the same file at each, as the README's runbook has it). */
export const SITES = {
  sites: { a: { nodes: ['node1'], fencing: 'none' }, b: { nodes: ['node2'], fencing: 'none' } },
  services: [
    {
      name: 'nfs', drbd_resource: 'r0', device: '/dev/drbd0', directory: DIR, fstype: 'ext4', ip: `${VIP}/24`, nic: 'eth0',
      clients: ['192.0.2.0/24'], export_options: 'rw,sync,no_subtree_check,no_root_squash', fsid: 'root',
      nfs_shared_infodir: `${DIR}/.nfs-state`, nfsv4_lease_time: 10,
    },
  ],
};
/** In the guests (the lab share); on the host it is under $LAB_DIR/run/share. */
export const SITES_CONF = '/lab/site/stack.json';
const hostSiteDir = () => join(labDir, 'run', 'share', 'site');

/** `ocfkit site ARGS --config …` in NODE: the operator's command at that site. */
export function site(node: Node, args: string[], timeoutS = 420): Result {
  return labExec(node, ['/opt/ocfkit/ocfkit', 'site', ...args, '--config', SITES_CONF], timeoutS);
}

// NODE's CIB → $1; after the host's `ocfkit stack apply --cib` wrote $2: the difference pushed in
// one change, as `stack apply --live` does (pcs cluster cib-push diff-against=), with the guest's
// own C tools (pcs takes ~8 s a call in a guest; on the host, under a second).
const PUSH = `set -u
crm_diff --original "$1" --new "$2" >"$3"; rc=$?
[ "$rc" = 1 ] || { echo "crm_diff exited $rc (no change, or an error)"; exit 1; }
cibadmin --patch --xml-file "$3"`;

/** Site S's stack, planned by the host's ocfkit against a copy of NODE's CIB, pushed in one change. */
export function applySite(s: SiteName): string {
  const node = SITE_NODE[s];
  const dir = hostSiteDir();
  labShOk(node, 'cibadmin --query >"$1"', [`/lab/site/live-${s}.xml`], 60);
  copyFileSync(join(dir, `live-${s}.xml`), join(dir, `new-${s}.xml`));
  // pcs checks each agent's meta-data: ocf:ocfkit:* visible to it in a private mount namespace only.
  const sandbox = mkdtempSync(join(tmpdir(), 'ocfkit-lab-site-'));
  let r: SpawnSyncReturns<string>;
  try {
    const apply = [join(root, 'dist', 'ocfkit'), 'stack', 'apply', '--config', join(dir, 'stack.json'), '--site', s, '--cib', join(dir, `new-${s}.xml`)];
    r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'bash', join(root, 'scripts', 'ocf-sandbox.sh'), sandbox, ...apply], { encoding: 'utf8', timeout: 300_000 });
  } finally {
    rmSync(sandbox, { recursive: true, force: true });
  }
  if (r.status !== 0) throw new Error(`ocfkit stack apply --site ${s} exited ${r.status}:\n${r.stdout}${r.stderr}`);
  labShOk(node, PUSH, [`/lab/site/live-${s}.xml`, `/lab/site/new-${s}.xml`, `/lab/site/patch-${s}.xml`], 120);
  return r.stdout;
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
  return p.promoted === n && p.fs === n && p.exp === n && p.ip === n;
}

export function waitServedAt(s: SiteName, timeoutS = 420): void {
  watch(`site ${s}'s stack running on ${SITE_NODE[s]}`, timeoutS, () => servedAt(s), 3);
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
  const applied = { a: applySite('a'), b: applySite('b') };
  // Without the ticket neither site promotes: DRBD runs Unpromoted at both.
  waitFor('DRBD Secondary and connected at both sites', 300, () => {
    const r = roles();
    return r.node1 === 'Secondary' && r.node2 === 'Secondary' && labShOk('node1', 'drbdadm cstate r0', [], 30).trim() === 'Connected';
  }, 5);
  labShOk('node1', 'crm_ticket --ticket "$1" --grant --force', [TICKET], 60);
  waitServedAt('a');
  startClient();
  return { applied };
}

/** Site S powered on again after a kill: its DRBD configuration (a guest keeps nothing but its disk), then its cluster. */
export function powerOn(s: SiteName): void {
  const n = SITE_NODE[s];
  labOk(['start', n], 400);
  labOk(['exec', n, 'bash', DRBD_LAB, 'config'], 120);
  labOk(['sites'], 900);
}

