/**
 * The holder search (lib/holders.ts) run in a child process, killed at a deadline: `ocfkit
 * find-holders` reads the query as JSON on stdin and writes the search's result as JSON on stdout.
 *
 * Why a child: reading /proc/PID/maps takes that process's mmap lock (its per-VMA locks first, on
 * kernels from 6.17). When a thread of a process waits on a filesystem that stopped answering
 * while holding it (a page fault's retry, page_mkwrite waiting on writeback, a GUP read of its
 * memory) and another thread waits for it to write (mmap, munmap, brk), the read blocks with
 * them, the event loop with it, and no deadline timer of the agent's can fire: the stop would say
 * nothing until pacemaker-execd kills it. The wait is killable, so the child dies at its bound.
 * Why the whole search and not its maps reads alone: a child per process read is one spawn per
 * process on the node, and the search runs only when an unmount is busy.
 */
import { readFileSync } from 'node:fs';
import { type Holder, type HolderNamespace, type HolderSearch, findHolders } from './holders';
import type { MountEntry } from './mounts';
import { type RunResult, type Runner, describe } from './run';

/** The hidden subcommand of the executable that runs one search. */
export const FIND_HOLDERS = 'find-holders';

/** Longest a search may take when the action has more time: it reads a few files per process. */
export const SEARCH_MS = 5000;

export interface HolderQuery {
  readonly target: MountEntry;
  /** The mount namespace searched; our own when absent. */
  readonly ns?: HolderNamespace;
  readonly proc?: string;
}

/** The search did not finish or its answer could not be read: who holds the mount is unknown. */
export interface SearchUnfinished {
  readonly unfinished: string;
}

export type SearchOutcome = HolderSearch | SearchUnfinished;

export function unfinished(o: SearchOutcome): o is SearchUnfinished {
  return 'unfinished' in o;
}

/** The child's side: the query's text in, the result's text out. Throws on a query it cannot use. */
export function answerQuery(text: string): string {
  const q = JSON.parse(text) as HolderQuery;
  if (typeof q?.target?.id !== 'number' || typeof q.target.fstype !== 'string') throw new Error('the query names no mount');
  return `${JSON.stringify(findHolders(q.target, q.proc, q.ns))}\n`;
}

/** `ocfkit find-holders`: the query on stdin. Exit 0 with the result, 2 with an unusable query. */
export function findHoldersCommand(): number {
  let out: string;
  try {
    out = answerQuery(readFileSync(0, 'utf8'));
  } catch (e) {
    process.stderr.write(`find-holders: ${(e as Error).message}\n`);
    return 2;
  }
  process.stdout.write(out);
  return 0;
}

function isHolders(v: unknown): v is Holder[] {
  return Array.isArray(v) && v.every((h) => typeof h?.pid === 'number' && typeof h.comm === 'string' && Array.isArray(h.uses) && h.uses.every((u: unknown) => typeof u === 'string'));
}

/** The parent's side: what a finished child said, or why it says nothing. */
export function readReply(r: RunResult, shown: readonly string[]): SearchOutcome {
  const why = (s: string) => ({ unfinished: `the holder search did not finish (${s})` });
  // The reason's first words say it: Pacemaker keeps 128 characters of it.
  if (r.timedOut || r.abandoned) return { unfinished: `the holder search did not finish (a process is stuck on a filesystem): ${describe(r, shown)}` };
  if (r.code !== 0) return why(describe(r, shown));
  try {
    const v = JSON.parse(r.stdout) as { holders?: unknown; foreign?: unknown };
    if (isHolders(v.holders) && isHolders(v.foreign)) return { holders: v.holders, foreign: v.foreign };
  } catch {
    // told below
  }
  return why(`\`${shown.join(' ')}\` answered something that is not a search result`);
}

export interface SearchOptions {
  readonly timeoutMs?: number;
  /** The executable to run it with: this one, by default (tests name another). */
  readonly argv?: readonly string[];
}

/**
 * Runs one search in a child, bounded by `timeoutMs` and the action's deadline (lib/run.ts). When
 * the child does not answer (a stuck process, or only a loaded node starting it slowly), the reads
 * that do not block (open files, working directory, root, executable) are searched here: the
 * holders they find are certain and can be named and signalled; without any, it cannot tell.
 */
export async function searchHolders(run: Runner, query: HolderQuery, opts: SearchOptions = {}): Promise<SearchOutcome> {
  const argv = opts.argv ?? [process.execPath, FIND_HOLDERS];
  const r = await run(argv, { input: JSON.stringify(query), timeoutMs: opts.timeoutMs ?? SEARCH_MS, graceMs: 100 });
  const reply = readReply(r, [FIND_HOLDERS]);
  if (!unfinished(reply)) return reply;
  const part = findHolders(query.target, query.proc, query.ns, { maps: false });
  return part.holders.length > 0 || part.foreign.length > 0 ? { ...part, withoutMaps: reply.unfinished } : reply;
}
