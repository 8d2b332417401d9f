import type { ExecutionTrigger } from '../history/execution-record';
import type { ConnectionState } from '../registry/registry-center';
import type { JobDefinition } from './define-job';
import { Executor, type ItemOutcome } from './executor';
import { type ClaimedRun, ItemRuns } from './item-runs';
import type { JobConfig } from './job-config';
import type { JobContext } from './job-context';
import type { JobEventSink } from './job-events';
import type { JobObservability } from './job-observer';
import { OwnershipGuard } from './ownership-guard';
import type { ExecutionService } from './services/execution-service';
import type { ServerService } from './services/server-service';
import { tokenOf, type ShardingService } from './services/sharding-service';

export interface ItemLauncherOptions {
  ctx: JobContext;
  definition: JobDefinition;
  sharding: ShardingService;
  execution: ExecutionService;
  servers: ServerService;
  config: () => JobConfig;
  events: JobEventSink;
  report: (err: unknown) => void;
  /** Metrics and history hooks, and the tracer of execution spans (default: none, the global tracer). */
  observability?: JobObservability;
}

export interface ItemLauncherHooks {
  /** A start found the item running (here, starting here, or on another instance): a misfire. */
  busy(item: number, config: JobConfig): Promise<void>;
  /** A run ended (`outcome` undefined for a failover run) and its record was released. */
  ended(item: number, outcome: ItemOutcome | undefined, sessionEpoch: number | undefined): void;
  /** Contact came back after a doubt (see OwnershipGuard): work held back may start. */
  restored(): void;
}

/**
 * Starts one item's run on this instance: the step between "the item should run now" (a fire, a misfire,
 * a failover claim) and the executor. Owns the runs in progress (ItemRuns) and the ownership guard that
 * fences them.
 *
 * - An item starts only when this instance may start work (open, connected and not in doubt, job and
 *   server enabled) and it is neither running nor starting here.
 * - monitorExecution: it starts only by claiming its running record (ExecutionService.claim), whose
 *   fencing token the run carries; a claim that finds it running anywhere is a misfire (`busy`).
 * - A claim that completed across a session loss (LOST between the claim and the start) or a stop never
 *   starts its run: the claim is given back, or left to the leader's reaping.
 */
export class ItemLauncher {
  private readonly runs: ItemRuns;
  private readonly guard: OwnershipGuard;
  /** Items between "decided to start" and "running" (claim in flight): a second start is a misfire. */
  private readonly starting = new Set<number>();
  private closed = false;

  constructor(
    private readonly o: ItemLauncherOptions,
    private readonly hooks: ItemLauncherHooks,
  ) {
    this.guard = new OwnershipGuard(o.ctx.registry, {
      fence: reason => this.runs.abortAll(reason),
      restored: () => hooks.restored(),
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

  get isClosed(): boolean {
    return this.closed;
  }

  /** Connected and not in doubt: new work may start as far as the registry is concerned. */
  get isConnected(): boolean {
    return this.guard.isConnected;
  }

  start(): void {
    this.guard.start();
  }

  close(): void {
    this.closed = true;
    this.guard.close();
  }

  /** Waits for running items up to `timeoutMs`, then aborts them and gives them a short grace. */
  drain(timeoutMs: number): Promise<void> {
    return this.runs.drain(timeoutMs);
  }

  connectionChanged(state: ConnectionState): void {
    this.guard.stateChanged(state);
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

  /** Something runs or is being started here. */
  isBusy(): boolean {
    return this.runs.size > 0 || this.starting.size > 0;
  }

  /** The item runs here, or a start of it is in flight. */
  isActive(item: number): boolean {
    return this.runs.has(item) || this.starting.has(item);
  }

  /** The item runs here (a start in flight does not count). */
  isRunning(item: number): boolean {
    return this.runs.has(item);
  }

  /** Claims the item's running record (monitorExecution) and starts its run, or reports a misfire. */
  async launch(item: number, trigger: ExecutionTrigger): Promise<void> {
    const config = this.o.config();
    if (
      this.isActive(item) ||
      (config.monitorExecution && this.o.execution.isRunningAnywhere(item))
    ) {
      await this.hooks.busy(item, config).catch(err => this.o.report(err));
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
          await this.hooks.busy(item, config);
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
        (done, outcome) => this.hooks.ended(done, outcome, sessionEpoch),
      );
    } catch (err) {
      this.o.report(err);
    } finally {
      this.starting.delete(item);
    }
  }

  /**
   * Starts the run of a failover claim the caller made (FailoverClaimer), or gives the claim back when
   * this instance stopped or the claiming session is no longer ours.
   */
  async launchClaimed(run: ClaimedRun & { sessionEpoch: number }): Promise<void> {
    if (this.closed || !this.claimStillOurs(run.sessionEpoch)) {
      await this.o.execution.release(run.item, run.sessionEpoch, true);
      return;
    }
    this.o.observability?.observer.failoverStarted(this.o.ctx.jobName);
    this.runs.start(run, item => this.hooks.ended(item, undefined, run.sessionEpoch));
  }

  /** The session that claimed a run is still ours (same epoch, not LOST or closed). */
  sessionLivesOn(sessionEpoch: number | undefined): boolean {
    const { registry } = this.o.ctx;
    return (
      (sessionEpoch === undefined || sessionEpoch === registry.sessionEpoch) &&
      registry.connectionState !== 'LOST' &&
      registry.connectionState !== 'CLOSED'
    );
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
}
