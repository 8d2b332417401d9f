import { hostname } from 'node:os';
import type { TracerProvider } from '@opentelemetry/api';
import type { Registry } from 'prom-client';
import { ConfigurationError } from '../errors';
import type { ExecutionHistoryReader, ExecutionHistorySink } from '../history/execution-record';
import { TypedEmitter } from '../internal/typed-emitter';
import { noopLogger, type Logger } from '../logger';
import type { CoordinatorRegistryCenter } from '../registry/registry-center';
import type { JobDefinition } from './define-job';
import type { WorkerEvents } from './job-events';
import { defaultInstanceId, localIp, validateInstanceId, type InstanceInfo } from './job-instance';
import { JobPaths } from './job-paths';
import { JobRuntime } from './job-runtime';
import { guardScriptCommand } from './kinds/script-command';
import type { JobConfig } from './job-config';
import { Scheduler } from './scheduler/scheduler';
import { beginLife, endLife } from './services/instance-holder';
import { WorkerObservability } from './worker-observability';

export interface WorkerOptions extends WorkerStallOptions {
  /** A registry center; initialised here when it was not yet. */
  registry: CoordinatorRegistryCenter;
  jobs: readonly JobDefinition[];
  /** Defaults to `{ip}@-@{pid}`; set it to something stable, e.g. a pod name. */
  instanceId?: string;
  /** Silent by default. */
  logger?: Logger;
  /** Free-form labels stored in each instance node (shown by operations tools). */
  labels?: Record<string, string>;
  /**
   * Script jobs run the command stored in the registry when it differs from their definition's (default
   * false: the definition's command runs and the difference is reported on `error`). Per worker, for all
   * its script jobs: it decides what registry write access may execute on this host, which is the
   * host's trust decision, not the job's. On a registry client without credentials it logs a warning.
   */
  allowRegistryCommand?: boolean;
  /**
   * Prometheus metrics (the names in docs/metrics.md) into the prom-client registry given here —
   * never prom-client's global default registry. Off by default.
   */
  metrics?: { register: Registry };
  /**
   * Where execution records go: a sink or several (`createMemoryHistory`, `createJsonLinesHistory`,
   * `createPostgresHistory`, or your own). Default: an in-memory ring of the newest 1,000, read through
   * `worker.history`; `false` keeps no history. Sinks are the application's to close after `stop()`.
   */
  history?: ExecutionHistorySink | readonly ExecutionHistorySink[] | false;
  /**
   * Where the execution spans go (one per execution, OpenTelemetry). Default: the global provider of
   * `@opentelemetry/api`, a no-op unless the application installed an SDK.
   */
  tracerProvider?: TracerProvider;
}

export interface WorkerStallOptions {
  /**
   * A condition that blocks a job's progress (a resharding that does not settle, a stale marker, a dead
   * writer's running record, fires the cron expected that never came) is reported on `stalled` after it
   * has held this long. Default: 10 s or two session timeouts, whichever is longer.
   */
  stallAfterMs?: number;
}

export interface StopOptions {
  /** How long running items may take to finish before their signals abort (default 30 s). */
  timeoutMs?: number;
}

const VERSION = '0.1.0';
const DEFAULT_STOP_TIMEOUT_MS = 30_000;

/**
 * One worker process's share of the cluster: one registry client, ONE scheduler timer for all its jobs,
 * and one JobRuntime per job.
 *
 * ```ts
 * const worker = await startWorker({ registry, jobs: [job], instanceId: 'pod-a' });
 * worker.on('executed', e => console.log(e.job, e.item, e.durationMs));
 * process.on('SIGTERM', () => void worker.stop({ timeoutMs: 30_000 }));
 * ```
 *
 * Events are typed (`WorkerEvents`); `error` reports background failures (never thrown, never fatal) and
 * is logged at error level when nobody listens. A job stopped by the operations `shutdown` command stops
 * on this worker only; the others keep running. `stop()` drains every job and does not close the
 * registry (the caller owns it).
 */
export class Worker extends TypedEmitter<WorkerEvents> {
  private readonly runtimes = new Map<string, JobRuntime>();
  private readonly scheduler: Scheduler;
  private stopping: Promise<void> | undefined;
  private readonly inspections: ((stored: JobConfig) => void)[] = [];
  private readonly observability: WorkerObservability;

  constructor(
    readonly instanceId: string,
    private readonly options: WorkerOptions,
    private readonly logger: Logger,
    private readonly startedAt: number,
  ) {
    super();
    this.scheduler = new Scheduler({
      onError: err => this.sink('error', { job: '', error: asError(err) }),
    });
    this.observability = new WorkerObservability(options, logger);
  }

  /**
   * The worker's execution history, newest first: the default memory ring, or the first sink given in
   * `history` that can be read; `undefined` when none can.
   */
  get history(): ExecutionHistoryReader | undefined {
    return this.observability.reader;
  }

  /**
   * Whether this worker is ready for work (what `/readyz` serves): its registry is connected and it runs
   * at least one job. `reason` says what is missing.
   */
  readiness(): { ready: boolean; reason: string } {
    const state = this.options.registry.connectionState;
    if (state !== 'CONNECTED' && state !== 'RECONNECTED') {
      return { ready: false, reason: `registry ${state}` };
    }
    if (this.stopping !== undefined) {
      return { ready: false, reason: 'stopping' };
    }
    if (this.runtimes.size === 0 || this.jobs.length === 0) {
      return { ready: false, reason: 'no job running' };
    }
    return { ready: true, reason: 'ready' };
  }

  /** Names of the jobs still running on this worker. */
  get jobs(): string[] {
    return [...this.runtimes.values()].filter(r => !r.isStopped).map(r => r.name);
  }

  /**
   * The items of `job` this worker owns now, ascending (`[]` while resharding is pending or for an unknown
   * job). Useful right after `startWorker` resolves: the first `sharded` event may already have fired.
   */
  items(job: string): number[] {
    return this.runtimes.get(job)?.currentItems() ?? [];
  }

  /** The runtime of a job (for tests and tools; not part of the stable API). */
  runtime(job: string): JobRuntime | undefined {
    return this.runtimes.get(job);
  }

  /** @internal */
  async startJobs(info: InstanceInfo): Promise<void> {
    for (const job of this.options.jobs) {
      const { definition, inspect } = guardScriptCommand(job, {
        allowRegistryCommand: this.options.allowRegistryCommand === true,
        report: error => this.sink('error', { job: job.name, error }),
        logger: this.logger,
      });
      this.inspections.push(inspect);
      const runtime = new JobRuntime({
        definition,
        registry: this.options.registry,
        instanceId: this.instanceId,
        instanceInfo: info,
        scheduler: this.scheduler,
        logger: this.logger,
        events: this.sink,
        stallAfterMs: this.options.stallAfterMs,
        observability: this.observability.jobObservability,
      });
      this.runtimes.set(definition.name, runtime);
    }
    const registry = this.options.registry;
    this.observability.startMetrics({
      registry,
      jobs: () =>
        [...this.runtimes.values()]
          .filter(r => !r.isStopped)
          .map(r => ({ job: r.name, items: r.currentItems().length, isLeader: r.isLeader })),
      cacheNodes: () =>
        [...this.runtimes.values()].reduce(
          (n, r) => n + (registry.getRawCache(new JobPaths(r.name).root)?.size ?? 0),
          0,
        ),
      dropped: () => this.observability.dropped(),
    });
    try {
      await Promise.all([...this.runtimes.values()].map(r => r.start()));
    } catch (err) {
      await this.stop({ timeoutMs: 0 });
      throw err;
    }
  }

  /**
   * @internal What a job found at start that the application should hear about: configuration drift and a
   * refused stored command. Called once `startWorker` has resolved, so listeners attached then get it.
   */
  reportStart(): void {
    [...this.runtimes.values()].forEach((runtime, index) => {
      if (runtime.isStopped) {
        return;
      }
      const drift = runtime.config.drift;
      if (drift.length > 0) {
        this.sink('configDrift', {
          job: runtime.name,
          path: new JobPaths(runtime.name).config,
          differences: drift.map(d => ({ ...d })),
        });
      }
      this.inspections[index]?.(runtime.currentConfig);
    });
  }

  stop(options: StopOptions = {}): Promise<void> {
    this.stopping ??= (async () => {
      const timeoutMs = options.timeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
      await Promise.all([...this.runtimes.values()].map(r => r.stop(timeoutMs)));
      this.scheduler.close();
      this.observability.close();
      endLife(this.startedAt);
    })();
    return this.stopping;
  }

  private readonly sink = <K extends keyof WorkerEvents>(
    event: K,
    ...args: WorkerEvents[K]
  ): void => {
    if (event === 'stalled') {
      const [stall] = args as WorkerEvents['stalled'];
      this.observability.stalled(stall.job, stall.reason);
    }
    if (event === 'error' && this.listenerCount('error') === 0) {
      const [payload] = args as WorkerEvents['error'];
      this.logger.error('background failure', { job: payload.job, error: payload.error });
      return;
    }
    try {
      this.emit(event, ...args);
    } catch (err) {
      // A throwing listener is the application's bug, not a reason to lose the worker (or the process).
      this.logger.error('an event listener threw', { event, error: err });
      if (event !== 'error' && this.listenerCount('error') > 0) {
        this.sink('error', { job: jobOf(args[0]), error: asError(err) });
      }
    }
  };
}

/**
 * Starts a worker for `jobs`: validates the options, initialises the registry if needed, and starts
 * every job (configuration written or adopted, instance registered, leadership campaign begun). A registry
 * step that fails with a retryable error (a server of the ensemble died mid-start) is tried again for up to
 * two session timeouts, at least 10 s (lib/job/start-retry.ts). Rejects
 * — leaving nothing registered — when a job cannot start (unreachable registry, clock too far off,
 * duplicate job names, `InstanceIdConflictError` when another live process holds the instance id; a
 * holder that may be a crashed process is first given up to 1.5 session timeouts + 1 s to expire).
 * What a job found at start — `configDrift`, a refused stored script command on `error` — is emitted on
 * the next turn of the event loop, so listeners attached right after `await startWorker(…)` get it.
 */
export async function startWorker(options: WorkerOptions): Promise<Worker> {
  const names = new Set<string>();
  for (const job of options.jobs) {
    if (names.has(job.name)) {
      throw new ConfigurationError(`jobs: the job name ${job.name} appears twice`, 'jobs');
    }
    names.add(job.name);
  }
  const ip = localIp();
  const instanceId = validateInstanceId(options.instanceId ?? defaultInstanceId(ip));
  const logger = (options.logger ?? noopLogger).child({ instance: instanceId });
  if (options.registry.connectionState === 'LATENT') {
    await options.registry.init();
  }
  if (options.allowRegistryCommand === true && !options.registry.hasCredentials) {
    logger.warn(
      'allowRegistryCommand on a registry client without credentials: whoever can write the registry can run commands on this host',
      { registry: options.registry.description },
    );
  }
  const startedAt = beginLife();
  const worker = new Worker(instanceId, options, logger, startedAt);
  const info: InstanceInfo = {
    host: hostname(),
    ip,
    pid: process.pid,
    labels: options.labels ?? {},
    startedAt,
    version: VERSION,
  };
  await worker.startJobs(info); // a failed start has stopped everything, its life ended
  // After the caller's continuation (microtasks) has run: listeners attached right after `await` see it.
  setImmediate(() => worker.reportStart());
  return worker;
}

function jobOf(payload: unknown): string {
  return typeof payload === 'object' && payload !== null && 'job' in payload
    ? String(payload.job)
    : '';
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
