/**
 * Vitest hooks for the tests that run in the qemu lab; the lab itself is driven through
 * scripts/lab/host.ts, re-exported here.
 */
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { type DrbdResource, generation, parseEvents2, parseProcDrbd, resourceFrom84 } from '../../lib/drbd';
import { type Node, lab, labShOk } from '../../scripts/lab/host';

export * from '../../scripts/lab/host';

/** Which DRBD the lab's guests run: Debian's in-tree 8.4, or a DRBD 9 module installed for their kernel. */
export type LabDrbd = '84' | '9';

let detected: LabDrbd | undefined;

/** The generation of the module NODE loads, read through the agent's parser of /proc/drbd. */
export function loadedDrbd(node: Node): LabDrbd {
  const p = parseProcDrbd(labShOk(node, 'modprobe drbd && cat /proc/drbd', [], 60));
  return generation(p.version) === 9 ? '9' : '84';
}

/**
 * LAB_DRBD=84|9 says which DRBD the tests expect (a lab whose module differs fails drbd-promote.test.ts's first test);
 * auto, the default, takes the module node1 loads.
 */
export function labDrbd(): LabDrbd {
  const want = process.env.LAB_DRBD ?? 'auto';
  if (want === '84' || want === '9') return want;
  if (want !== 'auto') throw new Error(`LAB_DRBD must be 84, 9 or auto, not ${JSON.stringify(want)}`);
  detected ??= loadedDrbd('node1');
  return detected;
}

const MINORS_MARK = '--- drbdadm sh-minor r0';

const DOWN: DrbdResource = { name: 'r0', role: 'Unconfigured', suspended: false, devices: [], connections: [] };

/**
 * r0 from what drbdRead fetched: events2 text on 9; on 8.4 /proc/drbd, the marker line and
 * `drbdadm sh-minor r0`'s output. Pure, so unit tests check it on the captured samples.
 */
export function drbdFromText(gen: LabDrbd, fetched: string): DrbdResource {
  if (gen === '9') return parseEvents2(fetched).get('r0') ?? DOWN;
  const [text = '', minors = ''] = fetched.split(`${MINORS_MARK}\n`);
  return resourceFrom84('r0', parseProcDrbd(text), minors.split(/\s+/).filter((w) => /^\d+$/.test(w)).map(Number));
}

/** r0 as the agent reads it: `drbdsetup events2 --now r0` on 9, /proc/drbd and `drbdadm sh-minor r0` on 8.4. */
export function drbdRead(node: Node, file?: string): { res: DrbdResource; text: string } {
  if (labDrbd() === '9') {
    // A resource that is down is `exists -` alone.
    const text = file ? labShOk(node, 'cat "$1"', [file], 30) : labShOk(node, 'drbdsetup events2 --now r0', [], 30);
    return { res: drbdFromText('9', text), text };
  }
  // One guest command for both (each costs a lab.sh exec in a polling loop): the text, a marker, the minors.
  const fetched = labShOk(node, 'cat "$1" && echo "$2" && drbdadm sh-minor r0', [file ?? '/proc/drbd', MINORS_MARK], 30);
  return { res: drbdFromText('84', fetched), text: fetched.split(`${MINORS_MARK}\n`)[0] ?? '' };
}

export interface DrbdView {
  /** Primary, Secondary, Unconfigured (down) */
  readonly role: string;
  readonly disk: string;
  /** DRBD 9's names on both generations: Connected, Connecting (8.4's WFConnection), StandAlone …; Unconfigured when down */
  readonly connection: string;
  readonly peerRole: string;
  /** Established, SyncSource, SyncTarget, PausedSyncS, WFBitMapS …, Off */
  readonly replication: string;
  readonly peerDisk: string;
}

/** Volume 0 of r0 and its one peer, flattened for assertions. */
export function viewOf(res: DrbdResource): DrbdView {
  const c = res.connections[0];
  const p = c?.peerDevices[0];
  return {
    role: res.role,
    disk: res.devices[0]?.disk ?? 'Diskless',
    connection: res.role === 'Unconfigured' ? 'Unconfigured' : (c?.connection ?? 'StandAlone'),
    peerRole: c?.peerRole ?? 'Unknown',
    replication: p?.replication ?? 'Off',
    peerDisk: p?.peerDisk ?? 'DUnknown',
  };
}

/** r0 on NODE, read as the agent reads it and flattened. */
export function drbdView(node: Node, file?: string): DrbdView {
  return viewOf(drbdRead(node, file).res);
}

/** Connected, with UpToDate data on both sides. */
export function drbdInSync(node: Node): boolean {
  const v = drbdView(node);
  return v.connection === 'Connected' && v.disk === 'UpToDate' && v.peerDisk === 'UpToDate';
}

/**
 * The hooks every lab test file needs: the lab brought up from a clean state before the tests
 * (then `setup`, which returns a reason when the file's own preparation failed), every test failing
 * with the reason when the lab is not there (a failed beforeAll would only skip them), and the lab
 * taken down afterwards, with the guests' console tails after a failure. `client` adds the third,
 * small guest. LAB_REUSE=1 skips the
 * initial down; LAB_KEEP=1 leaves the lab up.
 */
export function useLab(opts: { setup?: () => string | undefined; times?: Record<string, number>; timesLabel?: string; client?: boolean } = {}): { times: Record<string, number> } {
  const times = opts.times ?? {};
  let noLab: string | undefined;
  let failed = false;
  beforeAll(() => {
    if (process.getuid?.() !== 0) {
      noLab = 'the lab needs root (qemu shares the host root, runs vde_switch)';
      return;
    }
    if (process.env.LAB_REUSE !== '1') lab(['down'], 180);
    const r = lab(opts.client ? ['up', '--client'] : ['up'], 900);
    if (r.status !== 0) {
      noLab = `the lab did not come up (lab.sh up exited ${r.status}; qemu must run here):\n${r.out}`;
      return;
    }
    times.up = r.seconds;
    noLab = opts.setup?.();
  }, 960_000);
  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      failed = true;
    });
    if (noLab) throw new Error(noLab);
  });
  afterAll(() => {
    if (process.env.LAB_KEEP === '1') return;
    const r = lab(failed ? ['down', '--show-logs'] : ['down'], 180);
    times.down = r.seconds;
    if (opts.timesLabel) console.log(`${opts.timesLabel} (s): ${JSON.stringify(times)}`);
    if (failed || r.status !== 0) console.log(r.out);
    if (r.status !== 0) throw new Error(`lab.sh down exited ${r.status}:\n${r.out}`);
  }, 240_000);
  return { times };
}
