import type { ShardingContext } from '../../lib/job/define-job';

interface Held {
  instanceId: string;
  token: number;
}

/**
 * Every execution of one job across the workers of one process, checked as it happens: no item runs on
 * two instances at once — a run counts from its start until it returns or its signal aborts (`overlaps`), a token never goes back and grows whenever the item changes hands
 * (`regressions`). `waitAllRun` resolves once every listed item has started since `mark()` — on events,
 * with a deadline, never by polling.
 */
export class RunLedger {
  readonly overlaps: string[] = [];
  readonly regressions: string[] = [];
  /** Starts per item since the last mark. */
  private readonly started = new Map<number, number>();
  private readonly running = new Map<number, string>();
  private readonly runningDetail = new Map<number, string>();
  private readonly last = new Map<number, Held>();
  private readonly waiters = new Set<() => void>();
  starts = 0;
  /** When set, each run awaits it between its start and its end (a slow or blocked handler). */
  hold: ((ctx: ShardingContext) => Promise<void>) | undefined;

  /** The job handler: hand it to defineJob's `execute`. */
  readonly execute = async (ctx: ShardingContext): Promise<void> => {
    const item = ctx.shardingItem;
    const other = this.running.get(item);
    if (other !== undefined) {
      this.overlaps.push(
        `item ${item} started on ${ctx.instanceId} (token ${ctx.fencingToken}${ctx.failover ? ', failover' : ''}) while running on ${this.runningDetail.get(item) ?? other}`,
      );
    }
    const previous = this.last.get(item);
    if (previous !== undefined) {
      const handsChanged = previous.instanceId !== ctx.instanceId;
      if (
        ctx.fencingToken < previous.token ||
        (handsChanged && ctx.fencingToken === previous.token)
      ) {
        this.regressions.push(
          `item ${item}: token ${ctx.fencingToken} on ${ctx.instanceId} after ${previous.token} on ${previous.instanceId}`,
        );
      }
    }
    this.last.set(item, { instanceId: ctx.instanceId, token: ctx.fencingToken });
    this.running.set(item, ctx.instanceId);
    this.runningDetail.set(
      item,
      `${ctx.instanceId} (token ${ctx.fencingToken}${ctx.failover ? ', failover' : ''}, aborted ${String(ctx.signal.aborted)})`,
    );
    this.started.set(item, (this.started.get(item) ?? 0) + 1);
    this.instances.add(ctx.instanceId);
    this.starts++;
    for (const wake of [...this.waiters]) {
      wake();
    }
    // A run owns its item until it returns or its signal aborts: once aborted, `checkOwnership()` throws,
    // so it can no longer act as the owner (what the framework guarantees; user code must check it).
    const onAbort = (): void => this.ended(item, ctx.instanceId);
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      await new Promise<void>(resolve => setImmediate(resolve));
      await this.hold?.(ctx);
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      this.ended(item, ctx.instanceId);
    }
  };

  private ended(item: number, instanceId: string): void {
    if (this.running.get(item) === instanceId) {
      this.running.delete(item);
    }
  }

  /** Instances that started any run so far. */
  readonly instances = new Set<string>();

  /**
   * Resolves once `predicate()` holds, judged now and after every start (any run anywhere); rejects after
   * `timeoutMs` saying `what` is still awaited. For conditions that runs make observable (a job that fires
   * every second).
   */
  waitFor(
    predicate: () => boolean,
    timeoutMs: number,
    what: () => string = () => 'the runs',
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (predicate()) {
          done();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting on ${what()}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Forget the starts seen so far: `waitAllRun` counts from here. */
  mark(): void {
    this.started.clear();
  }

  missing(items: readonly number[]): number[] {
    return items.filter(item => !this.started.has(item));
  }

  /** Resolves once each of `items` started since the last mark; rejects after `timeoutMs` naming the rest. */
  waitAllRun(items: readonly number[], timeoutMs: number): Promise<void> {
    return this.waitFor(
      () => this.missing(items).length === 0,
      timeoutMs,
      () => {
        const missing = this.missing(items);
        const listed = `${missing.slice(0, 20).join(',')}${missing.length > 20 ? ',…' : ''}`;
        return `items ${listed} (${missing.length} of ${items.length} never ran)`;
      },
    );
  }
}

export function range(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}
