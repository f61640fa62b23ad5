/**
 * What a DRBD resource's configuration says about the choices an operator trips over: fencing,
 * its handlers, quorum, auto-promote and how many nodes hold data. Read from `drbdadm dump RES`
 * (the configuration file as drbdadm understands it, defaults omitted) or `drbdsetup show RES`
 * (what the kernel runs, also defaults omitted): both print the same block syntax.
 */

export interface ConfigNode {
  readonly words: readonly string[];
  readonly children?: readonly ConfigNode[];
}

/** Words, "quoted strings", `{`, `}`, `;`; `#` starts a comment to the end of the line. */
function tokens(text: string): string[] {
  const out: string[] = [];
  const re = /#[^\n]*|"((?:[^"\\]|\\.)*)"|([{};])|([^\s{};"#]+)/g;
  for (const m of text.matchAll(re)) {
    if (m[0].startsWith('#')) continue;
    if (m[1] !== undefined) out.push(m[1].replace(/\\(.)/g, '$1'));
    else out.push(m[2] ?? m[3]!);
  }
  return out;
}

export function parseConfigBlocks(text: string): ConfigNode[] {
  const t = tokens(text);
  let i = 0;
  const block = (): ConfigNode[] => {
    const nodes: ConfigNode[] = [];
    let words: string[] = [];
    while (i < t.length) {
      const w = t[i++]!;
      if (w === ';') {
        if (words.length) nodes.push({ words });
        words = [];
      } else if (w === '{') {
        nodes.push({ words, children: block() });
        words = [];
      } else if (w === '}') break;
      else words.push(w);
    }
    if (words.length) nodes.push({ words });
    return nodes;
  };
  return block();
}

function* walk(nodes: readonly ConfigNode[], path: readonly string[] = []): Generator<{ node: ConfigNode; path: readonly string[] }> {
  for (const n of nodes) {
    yield { node: n, path };
    if (n.children) yield* walk(n.children, [...path, n.words[0] ?? '']);
  }
}

export interface DrbdConfigFacts {
  readonly resource: string;
  /** `options { auto-promote … }` as written; undefined: the default (yes on DRBD 9). */
  readonly autoPromote?: boolean;
  /** `options { quorum … }`: off, majority, all or a number; undefined: off. */
  readonly quorum?: string;
  /** `fencing` (net on 9, disk on 8.4): dont-care, resource-only, resource-and-stonith. */
  readonly fencing?: string;
  /** handlers { name "command"; } */
  readonly handlers: Readonly<Record<string, string>>;
  /** Hosts (`on NAME`) of the resource, and whether each has a disk. */
  readonly hosts: ReadonlyArray<{ readonly name: string; readonly diskless: boolean }>;
  /** Connections `drbdsetup show` lists (the running resource's peers). */
  readonly connections: number;
}

const yes = (v: string | undefined) => v === undefined || /^(yes|true|on|1)$/i.test(v);

/** The facts of one resource from `drbdadm dump` or `drbdsetup show`; undefined when it is not there. */
export function drbdConfigFacts(text: string, resource: string): DrbdConfigFacts | undefined {
  const res = parseConfigBlocks(text).find((n) => n.words[0] === 'resource' && n.words[1] === resource && n.children);
  if (!res) return undefined;
  let autoPromote: boolean | undefined;
  let quorum: string | undefined;
  let fencing: string | undefined;
  const handlers: Record<string, string> = {};
  const hosts: Array<{ name: string; diskless: boolean }> = [];
  let connections = 0;
  for (const { node, path } of walk(res.children!)) {
    const [key, value] = node.words;
    const parent = path[path.length - 1];
    if (parent === 'options' && key === 'auto-promote') autoPromote = yes(value);
    else if (parent === 'options' && key === 'quorum') quorum = value;
    else if ((parent === 'net' || parent === 'disk') && key === 'fencing') fencing = value;
    else if (parent === 'handlers' && key && value) handlers[key] = value;
    else if (key === 'connection' && node.children) connections++;
    else if (key === 'on' && value && node.children) {
      const disks = [...walk(node.children)].filter(({ node: d }) => d.words[0] === 'disk' && !d.children).map(({ node: d }) => d.words[1]);
      const resourceDisk = res.children!.find((d) => d.words[0] === 'disk' && !d.children)?.words[1];
      const disk = disks[0] ?? resourceDisk;
      hosts.push({ name: value, diskless: disk === undefined || disk === 'none' });
    }
  }
  return { resource, autoPromote, quorum, fencing, handlers, hosts, connections };
}

/** The handler names DRBD 9 and 8.4 ship for Pacemaker (drbd-utils' scripts/). */
export const CRM_HANDLERS = {
  9: { fence: 'crm-fence-peer.9.sh', unfence: 'crm-unfence-peer.9.sh' },
  8: { fence: 'crm-fence-peer.sh', unfence: 'crm-unfence-peer.sh' },
} as const;

export interface ConfigFinding {
  readonly level: 'error' | 'warning';
  readonly text: string;
}

/**
 * What a configuration gets wrong for a Pacemaker-managed resource on the loaded module
 * (`major` 9 or 8): auto-promote, handlers of the other generation, two-node quorum.
 */
export function configFindings(c: DrbdConfigFacts, major: 8 | 9): ConfigFinding[] {
  const out: ConfigFinding[] = [];
  const r = c.resource;
  if (major >= 9 && c.autoPromote !== false) {
    out.push({
      level: 'warning',
      text: `DRBD ${r} has auto-promote ${c.autoPromote === undefined ? 'yes (the DRBD 9 default)' : 'yes'}: a process opening the Secondary's device for writing promotes it behind Pacemaker, and the real promotion is refused; set options { auto-promote no; } in the resource and run drbdadm adjust ${r}`,
    });
  }
  const want = CRM_HANDLERS[major];
  const other = CRM_HANDLERS[major === 9 ? 8 : 9];
  for (const [name, cmd] of Object.entries(c.handlers)) {
    const base = cmd.split(/\s+/)[0]!.split('/').pop()!;
    if (base === other.fence || base === other.unfence) {
      const fix = base === other.fence ? want.fence : want.unfence;
      out.push({ level: 'error', text: `DRBD ${r}: handler ${name} runs ${base}, which is for DRBD ${major === 9 ? '8.4' : '9'}; the loaded module is DRBD ${major === 9 ? '9' : '8.4'}: use ${fix}` });
    }
  }
  if (c.fencing === 'resource-and-stonith' || c.fencing === 'resource-only') {
    const fence = c.handlers['fence-peer'];
    if (!fence) out.push({ level: 'warning', text: `DRBD ${r} has fencing ${c.fencing} but no fence-peer handler: set handlers { fence-peer "/usr/lib/drbd/${want.fence}"; } and ${major === 9 ? `unfence-peer "/usr/lib/drbd/${want.unfence}"` : `after-resync-target "/usr/lib/drbd/${want.unfence}"`}` });
  }
  const dataNodes = c.hosts.filter((h) => !h.diskless).length;
  const voters = Math.max(c.hosts.length, c.connections + 1);
  if (major >= 9 && c.quorum && c.quorum !== 'off' && voters <= 2 && dataNodes <= 2) {
    out.push({
      level: 'warning',
      text: `DRBD ${r} has quorum ${c.quorum} with two nodes: a cut replication link takes quorum (and every promotion score) from both, so neither serves; add a third node, a diskless tie-breaker (a third "on" host with disk none), or use fencing resource-and-stonith instead`,
    });
  }
  return out;
}
