import type { Counter, Histogram, Registry } from 'prom-client';
import type { ExecutionOutcome, ExecutionRecord } from '../history/execution-record';
import type { JobObserver } from '../job/job-observer';
import type { ConnectionState, CoordinatorRegistryCenter } from '../registry/registry-center';
import { metricsFor, type MetricsSource, type ShardlineMetrics } from './shardline-metrics';

export interface MetricsOptions {
  /**
   * The prom-client registry the metrics go into: `new Registry()` of the application (never
   * prom-client's global default, unless the application passes it itself).
   */
  register: Registry;
}

/** What WorkerMetrics reads from its worker at scrape time. */
export interface MetricsWorkerView {
  registry: CoordinatorRegistryCenter;
  jobs(): { job: string; items: number; isLeader: boolean }[];
  cacheNodes(): number;
  dropped(): { sink: string; count: number }[];
}

/**
 * One worker's feed into {@link ShardlineMetrics}: counts executions, fires, failovers, reshardings and
 * stalls as they happen (the JobObserver hooks and `stalled`), times the registry's round trips
 * (`observeRequests`), counts session losses, and reads the gauges (items, leadership, connection, cache
 * size, dropped history records) at scrape time. `close()` detaches it; counters keep their values.
 */
export class WorkerMetrics implements JobObserver {
  private readonly metrics: ShardlineMetrics;
  private readonly backend: string;
  private readonly detach: () => void;
  private readonly unobserve: () => void;
  /** Label children cached per job and per op: the hot path skips prom-client's label hashing. */
  private readonly perJob = new Map<
    string,
    { outcomes: Map<ExecutionOutcome, Counter.Internal>; duration: Histogram.Internal<'job'> }
  >();

  constructor(
    register: Registry,
    private readonly view: MetricsWorkerView,
  ) {
    this.metrics = metricsFor(register);
    const registry = view.registry;
    this.backend = backendOf(registry.description);
    const source: MetricsSource = {
      jobs: () => view.jobs(),
      connection: () => ({ backend: this.backend, state: stateValue(registry.connectionState) }),
      cacheNodes: () => view.cacheNodes(),
      dropped: () => view.dropped(),
    };
    this.detach = this.metrics.attach(source);
    const requestDuration = this.metrics.requestDuration;
    const backend = this.backend;
    const perOp = new Map<string, Histogram.Internal<'op' | 'backend'>>();
    this.unobserve = registry.observeRequests((op, durationMs) => {
      let child = perOp.get(op);
      if (child === undefined) {
        child = requestDuration.labels({ op, backend });
        perOp.set(op, child);
      }
      child.observe(durationMs / 1000);
    });
    registry.on('connectionStateChanged', this.onState);
  }

  fired(job: string, latenessMs: number): void {
    this.metrics.lateness.observe({ job }, Math.max(0, latenessMs) / 1000);
  }

  executionEnded(record: ExecutionRecord): void {
    const { job, outcome } = record;
    let children = this.perJob.get(job);
    if (children === undefined) {
      children = { outcomes: new Map(), duration: this.metrics.duration.labels({ job }) };
      this.perJob.set(job, children);
    }
    let counter = children.outcomes.get(outcome);
    if (counter === undefined) {
      counter = this.metrics.executions.labels({ job, outcome });
      children.outcomes.set(outcome, counter);
    }
    counter.inc();
    children.duration.observe((record.endedAt - record.startedAt) / 1000);
  }

  failoverStarted(job: string): void {
    this.metrics.failovers.inc({ job });
  }

  resharded(job: string): void {
    this.metrics.reshardings.inc({ job });
  }

  stalled(job: string, reason: string): void {
    this.metrics.stalls.inc({ job, reason });
  }

  close(): void {
    this.detach();
    this.unobserve();
    this.view.registry.off('connectionStateChanged', this.onState);
  }

  private readonly onState = (state: ConnectionState): void => {
    if (state === 'LOST') {
      this.metrics.sessionLosses.inc();
    }
  };
}

/** `zookeeper://h:p/ns` → `zookeeper`. */
export function backendOf(description: string): string {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(description);
  return scheme?.[1]?.toLowerCase() ?? 'unknown';
}

function stateValue(state: ConnectionState | 'LATENT' | 'CLOSED'): number {
  switch (state) {
    case 'CONNECTED':
    case 'RECONNECTED':
      return 1;
    case 'SUSPENDED':
      return 0;
    default:
      return -1;
  }
}
