import type { Registry } from 'prom-client';
import type { ExecutionOutcome, ExecutionRecord } from '../history/execution-record';
import type { JobObserver } from '../job/job-observer';
import type { ConnectionState, CoordinatorRegistryCenter } from '../registry/registry-center';
import type { HistogramCell } from './cell-histogram';
import {
  metricsFor,
  type CounterCell,
  type MetricsSource,
  type ShardlineMetrics,
} from './shardline-metrics';

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
  /**
   * Cells cached per job (and per op below): the hot path adds to plain numbers, read at scrape, and
   * skips prom-client's label validation and hashing.
   */
  private readonly perJob = new Map<string, JobCells>();

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
    const perOp = new Map<string, HistogramCell>();
    this.unobserve = registry.observeRequests((op, durationMs) => {
      let cell = perOp.get(op);
      if (cell === undefined) {
        cell = requestDuration.cell({ op, backend });
        perOp.set(op, cell);
      }
      cell.observe(durationMs / 1000);
    });
    registry.on('connectionStateChanged', this.onState);
  }

  fired(job: string, latenessMs: number): void {
    this.cellsOf(job).lateness.observe(Math.max(0, latenessMs) / 1000);
  }

  executionEnded(record: ExecutionRecord): void {
    const cells = this.cellsOf(record.job);
    const outcome = record.outcome;
    let counter = cells.outcomes[outcome];
    if (counter === undefined) {
      counter = this.metrics.executionCell(record.job, outcome);
      cells.outcomes[outcome] = counter;
    }
    counter.value++;
    cells.duration.observe((record.endedAt - record.startedAt) / 1000);
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

  private cellsOf(job: string): JobCells {
    let cells = this.perJob.get(job);
    if (cells === undefined) {
      cells = {
        outcomes: {},
        duration: this.metrics.duration.cell({ job }),
        lateness: this.metrics.lateness.cell({ job }),
      };
      this.perJob.set(job, cells);
    }
    return cells;
  }

  private readonly onState = (state: ConnectionState): void => {
    if (state === 'LOST') {
      this.metrics.sessionLosses.inc();
    }
  };
}

/** One job's cells; a histogram cell is exported once it has an observation. */
interface JobCells {
  outcomes: Partial<Record<ExecutionOutcome, CounterCell>>;
  duration: HistogramCell;
  lateness: HistogramCell;
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
