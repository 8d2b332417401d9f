import { ConfigurationError, CorruptedDataError, InstanceIdConflictError } from '../errors';
import { Backoff } from '../internal/backoff';
import type { Logger } from '../logger';
import type {
  ConnectionState,
  CoordinatorRegistryCenter,
  TreeCache,
} from '../registry/registry-center';
import { AssignmentNotifier } from './assignment-notifier';
import type { JobDefinition } from './define-job';
import type { JobConfig } from './job-config';
import type { JobContext } from './job-context';
import type { JobEventSink } from './job-events';
import type { JobObservability } from './job-observer';
import type { InstanceInfo } from './job-instance';
import { JobPaths } from './job-paths';
import { ItemScheduler } from './item-scheduler';
import { LeaderLoop } from './leader-loop';
import { LivenessWatchdog } from './liveness-watchdog';
import { StartSteps, startRetryWindowMs } from './start-retry';
import { JobReactions } from './reactions/job-reactions';
import type { Scheduler } from './scheduler/scheduler';
import { ConfigService } from './services/config-service';
import { ElectionService } from './services/election-service';
import { CommandService } from './services/command-service';
import { ExecutionService } from './services/execution-service';
import { FailoverService } from './services/failover-service';
import { InstanceService } from './services/instance-service';
import { MisfireService } from './services/misfire-service';
import { ReconcileService } from './services/reconcile-service';
import { ServerService } from './services/server-service';
import { ShardingService } from './services/sharding-service';
import { selectStrategy } from './sharding/sharding-strategy';

export interface JobRuntimeOptions {
  definition: JobDefinition;
  registry: CoordinatorRegistryCenter;
  instanceId: string;
  instanceInfo: InstanceInfo;
  scheduler: Scheduler;
  logger: Logger;
  events: JobEventSink;
  /** A condition that blocks progress is reported (`stalled`) after this long (default 10 s or 2 sessions). */
  stallAfterMs?: number;
  /** Metrics and history hooks, and the tracer of execution spans. */
  observability?: JobObservability;
}

/** Re-registration after a session loss that failed is tried again after these delays. */
const REREGISTER_BACKOFF = { initialMs: 100, maxMs: 2000 };
/** A shutdown command drains like worker.stop(): running items get this long before their signals abort. */
const SHUTDOWN_DRAIN_MS = 30_000;

/**
 * Owns ONE job on one worker (ElasticJob's JobScheduler + JobRegistry entry, without the singleton): the
 * wiring of its parts and their lifecycle. It registers the configuration, the server and the instance,
 * keeps the job's tree cache and routes its events (JobReactions) to the one part each concerns:
 * membership and requests to the {@link LeaderLoop} (run while ElectionService holds the latch), runs to
 * the {@link ItemScheduler} (and its MisfireQueue and FailoverClaimer), assignments to the
 * {@link AssignmentNotifier}, configuration and commands to itself.
 *
 * Lifecycle: `start()` once; `stop(timeoutMs, reason)` drains (idempotent). A session loss never ends
 * the job: after LOST the instance re-registers on RECONNECTED and resharding is requested again.
 */
export class JobRuntime {
  readonly name: string;
  private readonly ctx: JobContext;
  private cacheRef: TreeCache | undefined;
  readonly config: ConfigService;
  readonly instances: InstanceService;
  readonly servers: ServerService;
  readonly sharding: ShardingService;
  readonly execution: ExecutionService;
  readonly failover: FailoverService;
  readonly misfire: MisfireService;
  readonly triggers: CommandService;
  readonly shutdowns: CommandService;
  private readonly reconcile: ReconcileService;
  readonly election: ElectionService;
  readonly items: ItemScheduler;
  readonly assignment: AssignmentNotifier;
  private readonly leaderLoop: LeaderLoop;
  private readonly reactions: JobReactions;
  private readonly watchdog: LivenessWatchdog;
  private stopping: Promise<void> | undefined;
  /** The re-registration in flight (one at a time; see reRegister). */
  private reRegistering: Promise<void> | undefined;
  private reRegisterAgain = false;
  private readonly logger: Logger;

  constructor(private readonly options: JobRuntimeOptions) {
    const { definition, registry, instanceId, instanceInfo } = options;
    this.name = definition.name;
    this.logger = options.logger.child({ job: definition.name, instance: instanceId });
    this.ctx = {
      jobName: definition.name,
      paths: new JobPaths(definition.name),
      instanceId,
      ip: instanceInfo.ip,
      registry,
      logger: this.logger,
      cache: () => {
        if (this.cacheRef === undefined) {
          throw new Error(`the cache of job ${definition.name} is not started`);
        }
        return this.cacheRef;
      },
    };
    this.config = new ConfigService(this.ctx, definition);
    this.instances = new InstanceService(this.ctx, instanceInfo, err => this.report(err));
    this.servers = new ServerService(this.ctx, this.instances);
    this.sharding = new ShardingService(
      this.ctx,
      this.servers,
      () => this.config.config,
      () => selectStrategy(this.config.config.strategy, definition.strategy),
    );
    this.execution = new ExecutionService(this.ctx, this.sharding, this.instances, () =>
      this.reRegister(),
    );
    this.failover = new FailoverService(
      this.ctx,
      this.execution,
      this.sharding,
      () => this.config.config,
    );
    this.misfire = new MisfireService(this.ctx);
    this.triggers = new CommandService(this.ctx, 'trigger');
    this.shutdowns = new CommandService(this.ctx, 'shutdown');
    this.reconcile = new ReconcileService(options.scheduler, () => this.config.config);
    this.leaderLoop = new LeaderLoop({
      ctx: this.ctx,
      sharding: this.sharding,
      failover: this.failover,
      servers: this.servers,
      reconcile: this.reconcile,
      report: err => this.report(err),
      isStopping: () => this.stopping !== undefined,
      observability: options.observability,
    });
    this.election = new ElectionService(
      this.ctx,
      isLeader => {
        this.logger.info(isLeader ? 'leadership gained' : 'leadership released');
        options.events('leader', { job: this.name, isLeader });
      },
      err => this.report(err),
    );
    this.items = new ItemScheduler({
      ctx: this.ctx,
      definition,
      scheduler: options.scheduler,
      sharding: this.sharding,
      execution: this.execution,
      failover: this.failover,
      misfire: this.misfire,
      servers: this.servers,
      config: () => this.config.config,
      events: options.events,
      report: err => this.report(err),
      observability: options.observability,
    });
    this.assignment = new AssignmentNotifier(definition.name, this.sharding, options.events);
    this.watchdog = new LivenessWatchdog(
      {
        ctx: this.ctx,
        sharding: this.sharding,
        execution: this.execution,
        config: () => this.config.config,
        mayStart: () => this.items.mayStart(),
        isActive: item => this.items.isActive(item),
        lastFireAt: () => this.items.lastFireAt,
        isLeader: () => this.isLeader,
        wakeLeader: () => this.leaderLoop.wake(),
        events: options.events,
      },
      options.stallAfterMs ?? Math.max(10_000, 2 * registry.sessionTimeoutMs),
    );
    this.reactions = new JobReactions(this.ctx, {
      onConfigValue: raw => this.onConfigValue(raw),
      onMembershipChanged: () => this.leaderLoop.wake(),
      onShardingRequested: () => this.leaderLoop.wake(),
      onAssignmentChanged: () => {
        this.assignment.changed();
        if (this.isLeader && !this.sharding.isRecordSound()) {
          this.leaderLoop.wake(); // someone wrote into the record: the leader reports and rewrites it
        }
      },
      onItemReleased: item => this.items.misfires.released(item),
      onFailoverQueued: () => this.items.failover.available(),
      onTrigger: () => this.triggers.consume(() => this.items.trigger()),
      onShutdown: () => this.shutdowns.consume(() => void this.stop(SHUTDOWN_DRAIN_MS, 'shutdown')),
      onOwnInstanceRemoved: () => void this.reRegister(),
    });
  }

  get isLeader(): boolean {
    return this.election.isLeader;
  }

  get isStopped(): boolean {
    return this.stopping !== undefined;
  }

  /** Resharding passes this instance committed as leader (bounded-work tests and metrics read it). */
  get reshardings(): number {
    return this.leaderLoop.reshardings;
  }

  /** The items this instance owns now (ascending); `[]` while resharding is pending. */
  currentItems(): number[] {
    return this.assignment.currentItems();
  }

  async start(): Promise<void> {
    const { registry, paths } = this.ctx;
    // A server dying mid-start costs a retry, not the start (start-retry.ts); every step is safe to repeat.
    const steps = new StartSteps({
      deadline: Date.now() + startRetryWindowMs(registry.sessionTimeoutMs),
      logger: this.logger,
      isStopped: () => this.isStopped,
    });
    await steps.run('write or adopt the configuration', () =>
      this.config.register(err => this.report(err)),
    );
    await steps.run('cache the job', () => registry.addCacheData(paths.root));
    this.cacheRef = registry.getRawCache(paths.root);
    await steps.run('check the clock', () => this.checkTimeDifference());
    await steps.run('register the server', () => this.servers.ensureRegistered());
    // Registered first: a start that conflicts with a live holder of the id must not clear its commands.
    await steps.run('register the instance', () => this.instances.register());
    // Commands addressed to a previous life of this instance id are void: a shutdown or trigger written
    // while it was down must not stop or fire the new one.
    await steps.run('clear stale shutdowns', () => this.shutdowns.clearStale());
    await steps.run('clear stale triggers', () => this.triggers.clearStale());
    this.ctx.cache().on('event', this.reactions.handle);
    registry.on('connectionStateChanged', this.onConnectionState);
    await steps.run('request a resharding', () => this.sharding.requestResharding());
    this.election.start((signal, fence) => this.leaderLoop.run(signal, fence));
    this.items.start();
    this.assignment.changed();
    this.watchdog.start();
    this.logger.info('job started', { items: this.config.config.shardingTotalCount });
  }

  /** Drains and leaves: no new fires, running items get `timeoutMs` before their signals abort. */
  stop(timeoutMs: number, reason: 'stop' | 'shutdown' | 'removed' = 'stop'): Promise<void> {
    this.stopping ??= this.drain(timeoutMs, reason);
    return this.stopping;
  }

  private async drain(timeoutMs: number, reason: 'stop' | 'shutdown' | 'removed'): Promise<void> {
    const { registry, paths } = this.ctx;
    this.items.close();
    this.assignment.close();
    this.watchdog.close();
    await this.items.drain(timeoutMs);
    registry.off('connectionStateChanged', this.onConnectionState);
    this.cacheRef?.off('event', this.reactions.handle);
    this.leaderLoop.wake();
    await this.election.stop();
    if (registry.connectionState !== 'CLOSED') {
      await this.instances.unregister().catch(err => this.report(err));
      await registry.evictCacheData(paths.root).catch(err => this.report(err));
    }
    this.logger.info('job stopped', { reason });
    this.options.events('jobStopped', { job: this.name, reason });
  }

  private onConfigValue(raw: string | null): void {
    if (raw === null) {
      if (this.stopping === undefined) {
        this.logger.warn('configuration removed: the job was removed');
        void this.stop(0, 'removed');
      }
      return;
    }
    const change = this.config.apply(raw, err => this.report(err));
    if (change === undefined) {
      return;
    }
    this.logger.info('configuration changed', { cron: change.next.cron });
    this.items.configChanged(change.previous, change.next);
    this.leaderLoop.wake();
  }

  private readonly onConnectionState = (state: ConnectionState): void => {
    this.items.connectionChanged(state);
    if (state === 'RECONNECTED') {
      void this.reRegister();
    }
  };

  /**
   * After a new session (or our node vanishing): membership again, and a resharding request.
   *
   * Judged by a direct read, not by the cache: on ZooKeeper, registering over a node left by an earlier
   * life of this instance id replaces it (delete + create in one multi), which the cache reports as
   * `removed` then `added`. Judged on the cache at the `removed` event, the node looked gone, so we
   * registered again — another replace, another `removed` — a loop that kept membership and resharding
   * churning and stopped the job (seen after restarting a worker under its old id while the old session
   * still lived).
   *
   * One re-registration at a time; a call while one runs makes it look once more when it ends.
   */
  private reRegister(): Promise<void> {
    this.reRegisterAgain = true;
    this.reRegistering ??= (async () => {
      while (this.reRegisterAgain && this.stopping === undefined) {
        this.reRegisterAgain = false;
        await this.reRegisterOnce();
      }
    })().finally(() => {
      this.reRegistering = undefined;
    });
    return this.reRegistering;
  }

  private async reRegisterOnce(): Promise<void> {
    const backoff = new Backoff(REREGISTER_BACKOFF);
    let registered = false;
    while (this.stopping === undefined) {
      try {
        // Looked at again after every registration: one that a newer session overtook may have left no
        // node of the current session — and claims wait for one (ExecutionService.ownNodeOf).
        if (await this.instances.isRegistered()) {
          return;
        }
        if (registered) {
          await backoff.sleep();
        }
        registered = true;
        await this.instances.register();
        await this.sharding.requestResharding();
        this.logger.info('instance re-registered');
        // Queued failover items may be claimed now.
        this.items.failover.available();
      } catch (err) {
        this.report(err);
        if (err instanceof InstanceIdConflictError) {
          void this.stop(0); // another live process holds our id now: leave it, never fight for it
          return;
        }
        await backoff.sleep();
      }
    }
  }

  private async checkTimeDifference(): Promise<void> {
    const max = this.config.config.maxTimeDiffSeconds;
    if (max < 0) {
      return;
    }
    const registryTime = await this.ctx.registry.getRegistryCenterTime(this.ctx.paths.root);
    const diffSeconds = Math.abs(Date.now() - registryTime) / 1000;
    if (diffSeconds > max) {
      throw new ConfigurationError(
        `maxTimeDiffSeconds: this host's clock differs from the registry's by ${diffSeconds.toFixed(1)} s (allowed ${max} s)`,
        'maxTimeDiffSeconds',
      );
    }
  }

  private report(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    if (!(error instanceof CorruptedDataError)) {
      this.logger.debug('background failure', { error });
    }
    this.options.events('error', { job: this.name, error });
  }

  /** The configuration in force (adopted, written or changed at runtime). */
  get currentConfig(): JobConfig {
    return this.config.config;
  }
}
