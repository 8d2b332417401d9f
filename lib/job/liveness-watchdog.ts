import type { JobConfig } from './job-config';
import type { JobContext } from './job-context';
import type { JobEventSink, StalledEvent, StallReason } from './job-events';
import { nextFireTime } from './scheduler/cron';
import type { ExecutionService, OwnRecord } from './services/execution-service';
import type { ShardingService } from './services/sharding-service';

/** What the watchdog reads of the job it guards (a narrow view, not the runtime). */
export interface WatchedJob {
  ctx: Pick<JobContext, 'jobName' | 'paths' | 'logger'>;
  sharding: Pick<ShardingService, 'pendingPath' | 'marker' | 'localItems'>;
  execution: Pick<ExecutionService, 'deadRecords' | 'idleOwnRecords' | 'releaseIdleOwnRecord'>;
  /** The item runs here or a start of it is in flight. */
  isActive(item: number): boolean;
  config(): JobConfig;
  /** This instance may start items now (connected, job and server enabled, not stopping). */
  mayStart(): boolean;
  /** Epoch ms of the newest fire that dispatched this instance's items (0: none yet). */
  lastFireAt(): number;
  isLeader(): boolean;
  /** Repair: have the leader re-judge now (a pass, a reap). */
  wakeLeader(): void;
  events: JobEventSink;
}

/** How often the watchdog looks; a check reads the cache only (no registry round trip). */
const CHECK_EVERY_MS = 1000;
/** A record of ours without a run here, seen this long, is released (a claim or launch takes far less). */
const IDLE_RECORD_AFTER_MS = 1000;

/**
 * Nothing stalls silently: every second, per job, the worker compares what should be happening with
 * what is, from its cache and its own scheduler:
 *
 * - `reshardingNotSettled`: a resharding request or the current term's processing marker has stood for
 *   longer than `stallAfterMs` (followers wait for it before every fire);
 * - `staleMarker`: a processing marker of a former leader term stands (it blocks no one, but the leader
 *   should have replaced it);
 * - `deadRunningRecord`: a running record whose writer is dead stands (the leader reaps those);
 * - `idleRunningRecord`: a running record written by this very life of this instance stands while no run
 *   or start of that item is in progress here: nobody would ever release it (nobody reaps a live writer's
 *   record) and the item would be a misfire at every fire. After `IDLE_RECORD_AFTER_MS` (not the stall
 *   bound: a claim or a launch takes far less) a fresh read confirms it (same record, still nothing holds
 *   the item: the cache may lag a release), then it is released and reported;
 * - `firesMissed`: the cron expected a fire more than `stallAfterMs` ago while this instance owned items
 *   and could run them, and no fire dispatched them since.
 *
 * Each condition emits one `stalled` event (job, reason, path, since) when it has held past the bound,
 * and again only after it cleared and came back. Where this worker may repair, it does: the leader is
 * woken to re-judge (pass, replace, reap). A follower cannot repair a leader's work; its report is the
 * operator's signal.
 */
export class LivenessWatchdog {
  private timer: NodeJS.Timeout | undefined;
  /** Condition key → first seen (epoch ms) and whether it was reported. */
  private readonly seen = new Map<string, { since: number; reported: boolean }>();
  private eligibleSince = 0;

  constructor(
    private readonly job: WatchedJob,
    private readonly stallAfterMs: number,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => this.check(Date.now()), CHECK_EVERY_MS);
    this.timer.unref();
  }

  close(): void {
    if (this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** One look (public for tests that drive time themselves). */
  check(now: number): void {
    const { ctx, sharding, execution } = this.job;
    const { paths } = ctx;
    const current = new Map<string, { reason: StallReason; path: string }>();
    const pending = sharding.pendingPath();
    if (pending !== undefined) {
      current.set(`pending:${pending}`, { reason: 'reshardingNotSettled', path: pending });
    }
    if (sharding.marker() === 'foreign') {
      current.set('staleMarker', { reason: 'staleMarker', path: paths.shardingProcessing });
    }
    for (const dead of execution.deadRecords()) {
      const path = paths.itemRunning(dead.item);
      current.set(`dead:${path}`, { reason: 'deadRunningRecord', path });
    }
    const idle = new Map<string, OwnRecord>();
    for (const own of execution.idleOwnRecords(item => this.job.isActive(item))) {
      const path = paths.itemRunning(own.item);
      const key = `idle:${path}:${own.stamp}`;
      idle.set(key, own);
      current.set(key, { reason: 'idleRunningRecord', path });
    }
    const missed = this.missedFire(now, pending !== undefined);
    if (missed !== undefined) {
      current.set('firesMissed', { reason: 'firesMissed', path: paths.root });
    }
    for (const key of this.seen.keys()) {
      if (!current.has(key)) {
        this.seen.delete(key);
      }
    }
    for (const [key, stall] of current) {
      let entry = this.seen.get(key);
      if (entry === undefined) {
        entry = {
          since: key === 'firesMissed' && missed !== undefined ? missed : now,
          reported: false,
        };
        this.seen.set(key, entry);
      }
      const own = idle.get(key);
      const bound = own === undefined ? this.stallAfterMs : IDLE_RECORD_AFTER_MS;
      if (!entry.reported && now - entry.since >= bound) {
        entry.reported = true;
        const event = { job: ctx.jobName, ...stall, since: entry.since };
        if (own !== undefined) {
          this.releaseIdle(own, event); // reported once a fresh read confirms what the cache shows
          continue;
        }
        ctx.logger.warn('stalled', { reason: stall.reason, path: stall.path, since: entry.since });
        this.job.events('stalled', event);
        if (this.job.isLeader()) {
          this.job.wakeLeader();
        }
      }
    }
  }

  /**
   * Repair of `idleRunningRecord`, reported only when a fresh read confirmed it (the cache may lag a
   * release): the item then runs as a misfire (the record's removal is its cue).
   */
  private releaseIdle(own: OwnRecord, event: StalledEvent): void {
    const { logger } = this.job.ctx;
    this.job.execution
      .releaseIdleOwnRecord(own.item, own.stamp, item => this.job.isActive(item))
      .then(
        released => {
          if (released) {
            logger.warn('stalled', { reason: event.reason, path: event.path, since: event.since });
            logger.warn('idle running record of ours released', {
              item: own.item,
              path: event.path,
            });
            this.job.events('stalled', event);
          }
        },
        (err: unknown) =>
          logger.warn('idle running record not released', {
            item: own.item,
            path: event.path,
            error: err,
          }),
      );
  }

  /**
   * The time of a fire the cron expected while this instance could run its items and that never
   * dispatched them, or undefined. Counted from when the instance last became able to run (owned items,
   * may start, nothing pending) — a paused or cut-off worker is not stalled, it is paused.
   */
  private missedFire(now: number, pending: boolean): number | undefined {
    const { cron, timeZone } = this.job.config();
    const eligible = !pending && this.job.mayStart() && this.job.sharding.localItems().length > 0;
    if (!eligible || cron === null) {
      this.eligibleSince = 0;
      return undefined;
    }
    if (this.eligibleSince === 0) {
      this.eligibleSince = now;
    }
    const after = Math.max(this.eligibleSince, this.job.lastFireAt());
    const expected = nextFireTime(cron, timeZone, new Date(after));
    return expected !== null && expected.getTime() < now ? expected.getTime() : undefined;
  }
}
