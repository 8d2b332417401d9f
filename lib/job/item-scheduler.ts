import type { ExecutionTrigger } from '../history/execution-record';
import type { ConnectionState } from '../registry/registry-center';
import type { JobDefinition } from './define-job';
import { Executor, type ItemOutcome } from './executor';
import { ItemRuns } from './item-runs';
import type { JobConfig } from './job-config';
import type { JobContext } from './job-context';
import type { JobEventSink } from './job-events';
import type { JobObservability } from './job-observer';
import { OwnershipGuard } from './ownership-guard';
import { nextFireTime } from './scheduler/cron';
import type { ScheduledTask, Scheduler } from './scheduler/scheduler';
import type { ExecutionService } from './services/execution-service';
import type { FailoverService } from './services/failover-service';
import type { MisfireService } from './services/misfire-service';
import type { ServerService } from './services/server-service';
import { tokenOf, type ShardingService } from './services/sharding-service';

export interface ItemSchedulerOptions {
  ctx: JobContext;
  definition: JobDefinition;
  scheduler: Scheduler;
  sharding: ShardingService;
  execution: ExecutionService;
  failover: FailoverService;
  misfire: MisfireService;
  servers: ServerService;
  config: () => JobConfig;
  events: JobEventSink;
  report: (err: unknown) => void;
  /** Metrics and history hooks, and the tracer of execution spans (default: none, the global tracer). */
  observability?: JobObservability;
}

/** Pause before a failover claim that failed on a registry error is tried again. */
const FAILOVER_RETRY_MS = 500;

/** How long a fire waits for a pending resharding before it is skipped (the next fire tries again). */
const SETTLE_TIMEOUT_MS = 10_000;

/**
 * When and what this instance runs for one job: the cron schedule (on the worker's shared Scheduler),
 * manual triggers, misfires, and the executions themselves.
 *
 * - A fire runs every local, enabled item that is not running; none starts while resharding is pending
 *   (waited for on the cache, with a deadline), while the job or this server is disabled, or while the
 *   registry connection is SUSPENDED/LOST.
 * - monitorExecution: an item starts only by claiming its running record (ExecutionService.claim); a fire
 *   that finds it running — here or on another instance — marks it misfire (when `misfire` is on), and
 *   it runs once right after the current run ends.
 * - A trigger on a busy instance is coalesced: one run after the current ones end.
 * - A session loss (LOST) aborts running executions: their running records are already gone.
 */
export class ItemScheduler {
  private readonly runs: ItemRuns;
  /** Items between "decided to start" and "running" (claim in flight): a second start is a misfire. */
  private readonly starting = new Set<number>();
  /** Misfires this instance recorded; the registry node mirrors them for operators. */
  private readonly misfires = new Set<number>();
  private task: ScheduledTask | undefined;
  private closed = false;
  private triggerPending = false;
  private claimingFailover = false;
  /** failoverAvailable() was called while a claim was in flight. */
  private failoverRecheck = false;
  private failoverRetry: NodeJS.Timeout | undefined;
  private assignmentCheck: NodeJS.Immediate | undefined;
  private readonly guard: OwnershipGuard;
  private lastLocalItems = '';
  /** Epoch ms of the newest fire that dispatched the local items (the liveness watchdog reads it). */
  lastFireAt = 0;

  constructor(private readonly o: ItemSchedulerOptions) {
    this.guard = new OwnershipGuard(o.ctx.registry, {
      fence: reason => this.runs.abortAll(reason),
      restored: () => this.resume(),
    });
    const executor = new Executor(o.definition, o.ctx.instanceId, o.ctx.logger, () =>
      this.guard.problem(),
    );
    this.runs = new ItemRuns(
      o.ctx,
      executor,
      o.execution,
      o.events,
      o.report,
      undefined,
      o.observability,
    );
  }

  start(): void {
    this.guard.start();
    this.schedule();
    this.assignmentChanged();
    this.failoverAvailable();
  }

  close(): void {
    this.closed = true;
    this.task?.cancel();
    this.task = undefined;
    this.guard.close();
    clearTimeout(this.failoverRetry);
    if (this.assignmentCheck !== undefined) {
      clearImmediate(this.assignmentCheck);
      this.assignmentCheck = undefined;
    }
  }

  /** Waits for running items up to `timeoutMs`, then aborts them and gives them a short grace. */
  drain(timeoutMs: number): Promise<void> {
    return this.runs.drain(timeoutMs);
  }

  configChanged(previous: JobConfig, next: JobConfig): void {
    if (previous.cron !== next.cron || previous.timeZone !== next.timeZone) {
      this.task?.cancel();
      this.schedule();
    }
  }

  connectionChanged(state: ConnectionState): void {
    this.guard.stateChanged(state);
    if (this.guard.isConnected) {
      this.resume();
    }
  }

  /** Contact is back (RECONNECTED, or a doubt ended): start what was held back meanwhile. */
  private resume(): void {
    if (this.closed) {
      return;
    }
    if (this.triggerPending && !this.isBusy()) {
      this.triggerPending = false;
      void this.fire('manual');
    }
    for (const item of [...this.misfires]) {
      this.runMisfire(item);
    }
    this.failoverAvailable();
  }

  /**
   * Failover items are queued (or we became idle): claim one if this instance is idle. A call during a
   * claim is not dropped: the claim may have read the queue before the new entry, so it looks again
   * when it ends. A claim that failed on a registry error looks again after a pause.
   */
  failoverAvailable(): void {
    if (this.claimingFailover) {
      this.failoverRecheck = true;
      return;
    }
    const config = this.o.config();
    if (
      !config.failover ||
      !config.monitorExecution ||
      this.isBusy() ||
      !this.mayStart() ||
      this.o.failover.pendingItems().length === 0
    ) {
      return;
    }
    this.claimingFailover = true;
    void (async () => {
      try {
        const claim = await this.o.failover.claim(this.o.ctx.registry.sessionTimeoutMs);
        if (claim !== undefined) {
          if (this.closed || !this.claimStillOurs(claim.sessionEpoch)) {
            await this.o.execution.release(claim.item, claim.sessionEpoch, true);
            return;
          }
          this.o.observability?.observer.failoverStarted(this.o.ctx.jobName);
          this.runs.start(
            { ...claim, config: this.o.config(), failover: true, trigger: 'failover' },
            item => this.afterRun(item, undefined, claim.sessionEpoch),
          );
        }
      } catch (err) {
        this.o.report(err);
        this.failoverRetry ??= setTimeout(() => {
          this.failoverRetry = undefined;
          this.failoverAvailable();
        }, FAILOVER_RETRY_MS);
      } finally {
        this.claimingFailover = false;
        if (this.failoverRecheck && !this.closed) {
          this.failoverRecheck = false;
          this.failoverAvailable();
        }
      }
    })();
  }

  /** Cache saw an item's owner or the generation change: tell listeners when our items changed. */
  assignmentChanged(): void {
    // One resharding transaction arrives as several node events in one batch: judge once after the
    // batch, so listeners never see an assignment that was never written.
    if (this.assignmentCheck === undefined && !this.closed) {
      this.assignmentCheck = setImmediate(() => {
        this.assignmentCheck = undefined;
        this.emitAssignment();
      });
    }
  }

  /** The items this instance owns now (ascending); `[]` while resharding is pending. */
  currentItems(): number[] {
    return this.o.sharding.isPending() || !this.o.sharding.isAssignmentComplete()
      ? []
      : this.o.sharding.localItems();
  }

  private emitAssignment(): void {
    if (this.closed || this.o.sharding.isPending() || !this.o.sharding.isAssignmentComplete()) {
      return; // the rest of the batch (or of a split delivery) will call again
    }
    // Emitted after every settled resharding (a new generation), changed or not — a listener that
    // subscribed late learns its items from the next one — and whenever the items change.
    const generation = this.o.sharding.generation().value;
    if (generation === 0) {
      return; // no assignment was ever written (our own resharding request may not be cached yet)
    }
    const items = this.o.sharding.localItems();
    const key = `${generation}:${items.join(',')}`;
    if (key !== this.lastLocalItems) {
      this.lastLocalItems = key;
      this.o.events('sharded', { job: this.o.ctx.jobName, items });
    }
  }

  /** An item's running record went away (its run ended somewhere): run a pending misfire now. */
  itemReleased(item: number): void {
    if (!this.runs.has(item)) {
      this.runMisfire(item);
    }
  }

  trigger(): void {
    // Busy, or cut off from the registry: run once as soon as possible rather than drop the request.
    if (this.isBusy() || !this.guard.isConnected) {
      this.triggerPending = true;
      return;
    }
    void this.fire('manual');
  }

  private schedule(): void {
    const { cron, timeZone } = this.o.config();
    if (this.closed || cron === null) {
      return;
    }
    const next = nextFireTime(cron, timeZone, new Date());
    if (next === null) {
      return;
    }
    const scheduledAt = next.getTime();
    this.task = this.o.scheduler.at(scheduledAt, async () => {
      this.o.observability?.observer.fired(this.o.ctx.jobName, Date.now() - scheduledAt);
      this.schedule();
      await this.fire();
    });
  }

  /** One fire: every local item that may start now. */
  async fire(trigger: ExecutionTrigger = 'cron'): Promise<void> {
    if (!this.mayStart()) {
      return;
    }
    if (this.o.sharding.isPending()) {
      try {
        await this.o.sharding.waitSettled(SETTLE_TIMEOUT_MS);
      } catch (err) {
        this.o.ctx.logger.warn('fire skipped: resharding did not settle', { error: err });
        return;
      }
      if (!this.mayStart()) {
        return;
      }
    }
    this.lastFireAt = Date.now();
    for (const item of this.o.sharding.localItems()) {
      if (!this.o.sharding.isItemDisabled(item)) {
        void this.startItem(item, trigger);
      }
    }
  }

  /**
   * A claim made on session `epoch` may still start its run: the same session, and connected. A LOST
   * between the claim and the start aborted every run that existed then — not this one.
   */
  private claimStillOurs(epoch: number | undefined): boolean {
    return (
      (epoch === undefined || epoch === this.o.ctx.registry.sessionEpoch) && this.guard.isConnected
    );
  }

  /** The session that claimed a run is still ours (same epoch, not LOST or closed). */
  private sessionLivesOn(sessionEpoch: number | undefined): boolean {
    const { registry } = this.o.ctx;
    return (
      (sessionEpoch === undefined || sessionEpoch === registry.sessionEpoch) &&
      registry.connectionState !== 'LOST' &&
      registry.connectionState !== 'CLOSED'
    );
  }

  private isBusy(): boolean {
    return this.runs.size > 0 || this.starting.size > 0;
  }

  /** This instance may start items now: open, connected, job and server enabled. */
  mayStart(): boolean {
    return (
      !this.closed &&
      this.guard.isConnected &&
      !this.o.config().disabled &&
      this.o.servers.isEnabled(this.o.ctx.ip)
    );
  }

  private async startItem(item: number, trigger: ExecutionTrigger): Promise<void> {
    const config = this.o.config();
    if (
      this.runs.has(item) ||
      this.starting.has(item) ||
      (config.monitorExecution && this.o.execution.isRunningAnywhere(item))
    ) {
      await this.misfire(item, config).catch(err => this.o.report(err));
      return;
    }
    this.starting.add(item);
    try {
      const { stamp } = this.o.sharding.generation();
      if (stamp === undefined) {
        return; // no assignment record yet: nothing is ours
      }
      let fencingToken = tokenOf(stamp);
      let sessionEpoch: number | undefined;
      if (config.monitorExecution) {
        const claim = await this.o.execution.claim(item);
        if (claim.status === 'busy') {
          await this.misfire(item, config);
          return;
        }
        if (claim.status !== 'claimed') {
          this.o.ctx.logger.debug('item not started', { item, status: claim.status });
          return;
        }
        fencingToken = claim.fencingToken;
        sessionEpoch = claim.sessionEpoch;
      }
      if (this.closed || !this.claimStillOurs(sessionEpoch)) {
        // Stopped, or the session was lost while the claim was in flight (its runs were aborted before
        // this one existed): give the claim back, or leave it to the leader's reaping.
        if (sessionEpoch !== undefined) {
          await this.o.execution.release(item, sessionEpoch, false);
        }
        return;
      }
      this.runs.start(
        { item, fencingToken, sessionEpoch, config, failover: false, trigger },
        (done, outcome) => this.afterRun(done, outcome, sessionEpoch),
      );
    } catch (err) {
      this.o.report(err);
    } finally {
      this.starting.delete(item);
    }
  }

  /**
   * A run ended. One interrupted because the item might no longer be ours (a fence in doubt or SUSPENDED,
   * not a session loss or a stop) while the session that claimed it lived on is owed one more run, as a
   * misfire: the fire did not complete, and nobody else will run it (our session never ended, so no
   * failover). It starts when contact is back (`resume`). A failover run (`outcome` undefined here) is
   * not ours to repeat.
   */
  private afterRun(item: number, outcome: ItemOutcome | undefined, sessionEpoch: number | undefined): void {
    if (this.closed) {
      return;
    }
    if (outcome?.interrupted === true && this.sessionLivesOn(sessionEpoch)) {
      void this.misfire(item, this.o.config())
        .catch(err => this.o.report(err))
        .then(() => this.runMisfire(item));
    } else {
      this.runMisfire(item);
    }
    if (this.triggerPending && !this.isBusy()) {
      this.triggerPending = false;
      void this.fire('manual');
    }
    this.failoverAvailable();
  }

  private runMisfire(item: number): void {
    const config = this.o.config();
    if (!this.misfires.has(item) || this.runs.has(item) || this.starting.has(item)) {
      return;
    }
    if (!this.closed && !this.guard.isConnected && config.misfire) {
      return; // held until contact is back (`resume`)
    }
    this.misfires.delete(item);
    if (
      !config.misfire ||
      this.o.sharding.ownerOf(item) !== this.o.ctx.instanceId ||
      !this.mayStart()
    ) {
      void this.o.misfire.clear(item).catch(err => this.o.report(err));
      return;
    }
    void (async () => {
      try {
        await this.o.misfire.clear(item);
        if (!this.o.sharding.isItemDisabled(item)) {
          await this.startItem(item, 'misfire');
        }
      } catch (err) {
        this.o.report(err);
      }
    })();
  }

  private async misfire(item: number, config: JobConfig): Promise<void> {
    if (!config.misfire) {
      return;
    }
    if (this.misfires.has(item)) {
      return; // already one run owed: misfires coalesce
    }
    this.misfires.add(item);
    this.o.events('misfire', { job: this.o.ctx.jobName, item });
    await this.o.misfire.mark(item);
  }
}
