import { OCF, OcfError } from './codes';

/**
 * The part of an operation timeout kept back so the agent can still report why it stopped: at
 * least 500 ms, what a loaded node needs to kill a hung child and write the reason (with 300 ms, a
 * 3 s monitor ended 74 ms late beside two labs).
 */
export function reserveFor(totalMs: number): number {
  return Math.min(2000, Math.max(500, Math.round(totalMs * 0.1)));
}

/** Raised when an action's time is used up: exit 1 with a reason, before Pacemaker's own timeout hits. */
export class DeadlineError extends OcfError {
  constructor(reason: string) {
    super(OCF.ERR_GENERIC, reason);
    this.name = 'DeadlineError';
  }
}

/**
 * Wall-clock budget of one action on a monotonic clock: the operation timeout less a reserve.
 * Everything that waits (commands, polls, sleeps) asks it how long it may.
 */
export class Deadline {
  private readonly end: number;

  constructor(
    readonly budgetMs: number,
    readonly label: string,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.end = now() + budgetMs;
  }

  /**
   * `spentMs`: what the operation's clock had already run before this process could act (Node's
   * start-up, seconds on a loaded node), counted against the budget, since Pacemaker's timeout
   * runs from the exec.
   */
  static fromTimeout(timeoutMs: number, label: string, spentMs = 0): Deadline {
    return new Deadline(Math.max(0, timeoutMs - reserveFor(timeoutMs) - Math.max(0, spentMs)), label);
  }

  remaining(): number {
    return Math.max(0, this.end - this.now());
  }

  expired(): boolean {
    return this.remaining() <= 0;
  }

  /** The smaller of `ms` and what is left. */
  cap(ms: number): number {
    return Math.min(ms, this.remaining());
  }

  /** Throws when the budget is gone; `what` says what was being waited for. */
  check(what: string): void {
    if (this.expired()) throw this.error(what);
  }

  error(what: string): DeadlineError {
    return new DeadlineError(`${this.label} ran out of time (${(this.budgetMs / 1000).toFixed(1)}s budget) while ${what}`);
  }

  /** Sleeps `ms`, or less if the budget ends first; never past the deadline. */
  sleep(ms: number): Promise<void> {
    const t = this.cap(ms);
    return new Promise((r) => setTimeout(r, t));
  }

  /**
   * Polls `probe` every `everyMs` until it returns a value other than undefined; throws a
   * DeadlineError naming `what` when the budget (or `limitMs`, if smaller) runs out first.
   */
  async poll<T>(what: string, everyMs: number, probe: () => Promise<T | undefined>, limitMs?: number): Promise<T> {
    const stopAt = this.now() + (limitMs ?? Infinity);
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      const left = Math.min(this.remaining(), stopAt - this.now());
      if (left <= 0) throw this.error(what);
      await new Promise((r) => setTimeout(r, Math.min(everyMs, left)));
    }
  }
}
