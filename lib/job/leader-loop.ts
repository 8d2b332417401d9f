import { TransactionError } from '../errors';
import { Backoff } from '../internal/backoff';
import type { LeaderFence } from '../registry/registry-center';
import type { JobContext } from './job-context';
import type { JobObservability } from './job-observer';
import type { FailoverService } from './services/failover-service';
import type { ReconcileService } from './services/reconcile-service';
import type { ServerService } from './services/server-service';
import type { ShardingService } from './services/sharding-service';

export interface LeaderLoopOptions {
  ctx: JobContext;
  sharding: ShardingService;
  failover: FailoverService;
  servers: ServerService;
  reconcile: ReconcileService;
  report: (err: unknown) => void;
  /** The job is stopping: the loop ends at its next turn. */
  isStopping: () => boolean;
  observability?: JobObservability;
}

/** How long the leader waits for its own committed resharding to show in the cache; also the backoff cap. */
const RESHARD_SETTLE_MS = 2000;
/** A resharding pass (or reaping) that failed is judged again after these delays, or at the next wake-up. */
const LEADER_BACKOFF = { initialMs: 50, maxMs: RESHARD_SETTLE_MS };

/**
 * The duties of one job's leader for one term (ElectionService runs it while this instance holds the
 * latch): reap dead writers' running records (queueing their items for failover), then reshard whenever
 * requested or out of date, until the latch signal aborts or the job stops.
 *
 * - One pass per wake-up at most: a pass consumes the requests it saw, so passes follow the rate of real
 *   changes (requests, membership, configuration, the periodic reconcile), never a loop of their own.
 * - A pass that failed (a stale view, a lost fence) is judged again after a capped backoff or at the next
 *   wake-up, whichever comes first; a pass that failed half-way left its own marker, which keeps
 *   `needsPass()` true until a pass completes.
 * - Woken by the cache reactions ({@link wake}), by the reconcile timer, and by the end of the term.
 */
export class LeaderLoop {
  private wakeUp: (() => void) | undefined;
  /** Resharding passes this instance committed as leader (bounded-work tests and metrics read it). */
  reshardings = 0;

  constructor(private readonly o: LeaderLoopOptions) {}

  /** Re-judge now (a request, a membership or configuration change, a damaged record, a stop). */
  wake(): void {
    const wake = this.wakeUp;
    this.wakeUp = undefined;
    wake?.();
  }

  /** The duties of one term: until `signal` aborts (the latch was lost or released) or the job stops. */
  async run(signal: AbortSignal, fence: LeaderFence): Promise<void> {
    const onAbort = (): void => this.wake();
    signal.addEventListener('abort', onAbort, { once: true });
    this.o.reconcile.start(signal, () => this.wake());
    try {
      await this.loop(signal, fence);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  private async loop(signal: AbortSignal, fence: LeaderFence): Promise<void> {
    const { ctx, sharding } = this.o;
    const backoff = new Backoff(LEADER_BACKOFF);
    while (!signal.aborted && !this.o.isStopping()) {
      const woken = new Promise<void>(resolve => (this.wakeUp = resolve));
      try {
        // Dead writers' running records first: they block their items, and failover waits on them.
        if ((await this.o.failover.reap(fence)) > 0) {
          backoff.reset();
        }
        if (sharding.needsPass()) {
          const corruption = sharding.corruption();
          if (corruption !== undefined) {
            this.o.report(corruption); // the pass below rewrites the record
          }
          const generation = await sharding.reshard(fence);
          this.reshardings++;
          this.o.observability?.observer.resharded(ctx.jobName);
          ctx.logger.info('resharding committed', { generation });
          await ctx
            .cache()
            .waitFor(
              () =>
                sharding.generation().value >= generation &&
                !ctx.cache().has(ctx.paths.shardingProcessing),
              { timeoutMs: RESHARD_SETTLE_MS, signal },
            )
            .catch(() => undefined);
          await this.collectServers();
          backoff.reset();
          continue;
        }
      } catch (err) {
        if (signal.aborted) {
          break;
        }
        if (!(err instanceof TransactionError)) {
          this.o.report(err);
        }
        // A stale view or a lost fence: wait for a change (a request, membership) or the backoff while
        // the cache catches up, then re-judge. (An abort wakes the loop too: `run` turns it into a wake-up.)
        const wake = new AbortController();
        void woken.then(() => wake.abort());
        await backoff.sleep(wake.signal).catch(() => undefined);
        continue;
      }
      if (!signal.aborted) {
        await woken;
      }
    }
  }

  /** Servers (IPs) that no instance uses any more, removed after a pass. */
  private async collectServers(): Promise<void> {
    const { ctx, servers } = this.o;
    for (const ip of servers.orphanedServers()) {
      await ctx.registry.remove(ctx.paths.server(ip)).catch(err => this.o.report(err));
    }
  }
}
