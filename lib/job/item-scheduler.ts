import type { ExecutionTrigger } from '../history/execution-record';
import type { ConnectionState } from '../registry/registry-center';
import type { ItemOutcome } from './executor';
import { FailoverClaimer } from './failover-claimer';
import { ItemLauncher, type ItemLauncherOptions } from './item-launcher';
import type { JobConfig } from './job-config';
import { MisfireQueue } from './misfire-queue';
import { nextFireTime } from './scheduler/cron';
import type { ScheduledTask, Scheduler } from './scheduler/scheduler';
import type { FailoverService } from './services/failover-service';
import type { MisfireService } from './services/misfire-service';

export interface ItemSchedulerOptions extends ItemLauncherOptions {
  scheduler: Scheduler;
  failover: FailoverService;
  misfire: MisfireService;
}

/** How long a fire waits for a pending resharding before it is skipped (the next fire tries again). */
const SETTLE_TIMEOUT_MS = 10_000;

/**
 * When this instance runs the items of one job. A fire's path reads straight down:
 * `ItemScheduler` (cron fire, manual trigger) → {@link ItemLauncher} (claim, start) → ItemRuns (record,
 * release, events) → Executor (timeout, retries) → the handler. Beside it, the two other sources of runs:
 * {@link MisfireQueue} (runs owed) and {@link FailoverClaimer} (crashed instances' items); all three are
 * told here when a run ends or contact comes back.
 *
 * - A fire runs every local, enabled item that is not running; none starts while resharding is pending
 *   (waited for on the cache, with a deadline), while the job or this server is disabled, or while the
 *   registry connection is SUSPENDED/LOST or in doubt.
 * - A trigger on a busy (or cut-off) instance is coalesced: one run after the current ones end, or when
 *   contact is back.
 * - A session loss (LOST) aborts running executions: their running records are already gone.
 */
export class ItemScheduler {
  private readonly launcher: ItemLauncher;
  /** Runs owed (misfires, fenced runs): the cache tells it when an item's record goes away. */
  readonly misfires: MisfireQueue;
  /** Claims of crashed instances' items: the cache tells it when items are queued. */
  readonly failover: FailoverClaimer;
  private task: ScheduledTask | undefined;
  private triggerPending = false;
  /**
   * The session epoch of a cron fire that found this instance cut off or in doubt (SUSPENDED, or no recent
   * registry contact): run once, as a misfire, when contact is back within that session (`misfire` jobs). A blip of tens of
   * milliseconds must not cost the owned items a whole period (seen in the etcd rolling-start e2e: one item
   * of 300 missed its fire to a 73 ms SUSPENDED). After LOST the new session starts from a new assignment.
   */
  private fireOwed: number | undefined;
  /** Epoch ms of the newest fire that dispatched the local items (the liveness watchdog reads it). */
  lastFireAt = 0;

  constructor(private readonly o: ItemSchedulerOptions) {
    this.launcher = new ItemLauncher(o, {
      busy: (item, config) => this.misfires.add(item, config),
      ended: (item, outcome, sessionEpoch) => this.afterRun(item, outcome, sessionEpoch),
      restored: () => this.resume(),
    });
    this.misfires = new MisfireQueue(o, this.launcher);
    this.failover = new FailoverClaimer(o, this.launcher);
  }

  start(): void {
    this.launcher.start();
    this.schedule();
    this.failover.available();
  }

  close(): void {
    this.launcher.close();
    this.task?.cancel();
    this.task = undefined;
    this.failover.close();
  }

  /** Waits for running items up to `timeoutMs`, then aborts them and gives them a short grace. */
  drain(timeoutMs: number): Promise<void> {
    return this.launcher.drain(timeoutMs);
  }

  configChanged(previous: JobConfig, next: JobConfig): void {
    if (previous.cron !== next.cron || previous.timeZone !== next.timeZone) {
      this.task?.cancel();
      this.schedule();
    }
  }

  connectionChanged(state: ConnectionState): void {
    this.launcher.connectionChanged(state);
    if (this.launcher.isConnected) {
      this.resume();
    }
  }

  /** This instance may start items now: open, connected, job and server enabled. */
  mayStart(): boolean {
    return this.launcher.mayStart();
  }

  /**
   * The item runs here or a start of it is in progress: a claim in flight, or any failover claim (its
   * record exists before the claim returns the item it took).
   */
  isActive(item: number): boolean {
    return this.launcher.isActive(item) || this.failover.isClaiming;
  }

  trigger(): void {
    // Busy, or cut off from the registry: run once as soon as possible rather than drop the request.
    if (this.launcher.isBusy() || !this.launcher.isConnected) {
      this.triggerPending = true;
      return;
    }
    void this.fire('manual');
  }

  /** One fire: every local item that may start now. */
  async fire(trigger: ExecutionTrigger = 'cron'): Promise<void> {
    if (!this.mayStart()) {
      this.oweIfCutOff(trigger);
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
        this.oweIfCutOff(trigger); // cut off while it waited for the resharding: owed all the same
        return;
      }
    }
    this.lastFireAt = Date.now();
    for (const item of this.o.sharding.localItems()) {
      if (!this.o.sharding.isItemDisabled(item)) {
        void this.launcher.launch(item, trigger);
      }
    }
  }

  /**
   * A cron fire that could not start because this instance is cut off or in doubt (not because the job or
   * server is disabled) is owed once, for this session — unless the job turned misfires off, which says a
   * fire that could not run is skipped.
   */
  private oweIfCutOff(trigger: ExecutionTrigger): void {
    if (
      trigger === 'cron' &&
      !this.launcher.isClosed &&
      !this.launcher.isConnected &&
      this.o.config().misfire
    ) {
      this.fireOwed = this.o.ctx.registry.sessionEpoch;
    }
  }

  private schedule(): void {
    const { cron, timeZone } = this.o.config();
    if (this.launcher.isClosed || cron === null) {
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

  /** Contact is back (RECONNECTED, or a doubt ended): start what was held back meanwhile. */
  private resume(): void {
    if (this.launcher.isClosed) {
      return;
    }
    this.runPendingTrigger();
    this.misfires.resume();
    this.runOwedFire();
    this.failover.available();
  }

  private runOwedFire(): void {
    const owed = this.fireOwed;
    this.fireOwed = undefined;
    if (owed !== undefined && owed === this.o.ctx.registry.sessionEpoch) {
      void this.fire('misfire');
    }
  }

  /** A run ended: what it owes, a coalesced trigger, and failover claims (we may be idle now). */
  private afterRun(
    item: number,
    outcome: ItemOutcome | undefined,
    sessionEpoch: number | undefined,
  ): void {
    if (this.launcher.isClosed) {
      return;
    }
    this.misfires.runEnded(item, outcome, sessionEpoch);
    this.runPendingTrigger();
    this.failover.available();
  }

  private runPendingTrigger(): void {
    if (this.triggerPending && !this.launcher.isBusy()) {
      this.triggerPending = false;
      void this.fire('manual');
    }
  }
}
