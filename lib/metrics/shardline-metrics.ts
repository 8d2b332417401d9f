import { Counter, Gauge, type Registry } from 'prom-client';
import { CellHistogram } from './cell-histogram';

/** Names of every Shardline metric (listed in docs/metrics.md); dashboards and alerts rely on them. */
export const METRIC_NAMES = [
  'shardline_executions_total',
  'shardline_execution_duration_seconds',
  'shardline_fire_lateness_seconds',
  'shardline_items_owned',
  'shardline_leader',
  'shardline_failovers_total',
  'shardline_reshardings_total',
  'shardline_stalls_total',
  'shardline_registry_connection_state',
  'shardline_registry_session_losses_total',
  'shardline_registry_request_duration_seconds',
  'shardline_registry_cache_nodes',
  'shardline_history_dropped_total',
] as const;

/** One job on one worker, as the per-job gauges read it. */
interface JobSample {
  job: string;
  /** Items owned now. */
  items: number;
  /** Whether this instance leads the job. */
  isLeader: boolean;
}

/** What the collected (scrape-time) gauges read from each worker attached to a prom-client registry. */
export interface MetricsSource {
  /** Per job on this worker: items owned now and whether this instance leads it. */
  jobs(): JobSample[];
  /** The registry backend (`memory`, `zookeeper`, `etcd`) and its state as a number (see below). */
  connection(): { backend: string; state: number };
  /** Nodes held in this worker's tree caches. */
  cacheNodes(): number;
  /** Records each history sink dropped so far, by sink name. */
  dropped(): { sink: string; count: number }[];
}

/**
 * One label set of a counter counted in a plain number on the hot path; the counter's `collect` adds what
 * was counted since the last scrape (prom-client's `inc` hashes the label set on every call).
 */
export class CounterCell {
  value = 0;
  /** The part of `value` already added to the prom-client counter. */
  folded = 0;

  constructor(readonly labels: Readonly<Record<string, string>>) {}
}

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const LATENESS_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const REQUEST_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

/**
 * Shardline's metrics in one prom-client registry — the one the application passes, never prom-client's
 * global default. One instance per registry (`metricsFor`): several workers of one process share it, the
 * counters add up and the gauges sum over the attached workers (the connection state takes the worst).
 * Labels are bounded: job, outcome, reason, op and backend; never an item or an instance id.
 */
export class ShardlineMetrics {
  readonly executions: Counter<'job' | 'outcome'>;
  readonly duration: CellHistogram;
  readonly lateness: CellHistogram;
  readonly failovers: Counter<'job'>;
  readonly reshardings: Counter<'job'>;
  readonly stalls: Counter<'job' | 'reason'>;
  readonly sessionLosses: Counter;
  readonly requestDuration: CellHistogram;
  private readonly sources = new Set<MetricsSource>();
  /** Executions counted per job and outcome, in first-use order; folded into `executions` at scrape. */
  private readonly executionCells = new Map<string, CounterCell>();
  /** Dropped counts already turned into counter increments, per source and sink. */
  private readonly droppedSeen = new WeakMap<MetricsSource, Map<string, number>>();

  constructor(register: Registry) {
    const registers = [register];
    const sources = this.sources;
    const executionCells = this.executionCells;
    this.executions = new Counter({
      name: 'shardline_executions_total',
      help: 'Executions of items that ended, by outcome (succeeded, failed, aborted).',
      labelNames: ['job', 'outcome'],
      registers,
      collect() {
        for (const cell of executionCells.values()) {
          if (cell.value > cell.folded) {
            this.inc(cell.labels, cell.value - cell.folded);
            cell.folded = cell.value;
          }
        }
      },
    });
    this.duration = new CellHistogram({
      name: 'shardline_execution_duration_seconds',
      help: 'How long executions ran, retries included.',
      labelNames: ['job'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.lateness = new CellHistogram({
      name: 'shardline_fire_lateness_seconds',
      help: 'How late cron fires came after their scheduled time.',
      labelNames: ['job'],
      buckets: LATENESS_BUCKETS,
      registers,
    });
    /**
     * Each worker's jobs, read once per scrape: prom-client calls every metric's `collect` in one
     * synchronous pass, so the two per-job gauges share the reading (it walks each job's assignment
     * in the cache, about 1 ms for 10 jobs of 100 items), forgotten at the next microtask.
     */
    let jobSamples: Map<MetricsSource, JobSample[]> | undefined;
    const jobsOf = (source: MetricsSource): JobSample[] => {
      if (jobSamples === undefined) {
        const samples = new Map<MetricsSource, JobSample[]>();
        jobSamples = samples;
        queueMicrotask(() => {
          if (jobSamples === samples) {
            jobSamples = undefined;
          }
        });
      }
      let samples = jobSamples.get(source);
      if (samples === undefined) {
        samples = source.jobs();
        jobSamples.set(source, samples);
      }
      return samples;
    };
    /** A gauge per job, read from every attached worker at scrape time and summed. */
    const perJobGauge = (name: string, help: string, value: (j: JobSample) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['job'],
        registers,
        collect() {
          this.reset();
          for (const source of sources) {
            for (const j of jobsOf(source)) {
              this.inc({ job: j.job }, value(j));
            }
          }
        },
      });
    };
    perJobGauge(
      'shardline_items_owned',
      'Items this process owns now (summed over its workers).',
      j => j.items,
    );
    perJobGauge(
      'shardline_leader',
      '1 while an instance of this process leads the job, else 0.',
      j => (j.isLeader ? 1 : 0),
    );
    this.failovers = new Counter({
      name: 'shardline_failovers_total',
      help: 'Failover runs this process claimed (items in flight on a crashed instance).',
      labelNames: ['job'],
      registers,
    });
    this.reshardings = new Counter({
      name: 'shardline_reshardings_total',
      help: 'Resharding passes committed by this process as the job leader.',
      labelNames: ['job'],
      registers,
    });
    this.stalls = new Counter({
      name: 'shardline_stalls_total',
      help: 'Stalls reported (the worker `stalled` event), by reason.',
      labelNames: ['job', 'reason'],
      registers,
    });
    new Gauge({
      name: 'shardline_registry_connection_state',
      help: 'Registry connection: 1 connected, 0 suspended (the session may live), -1 lost or closed.',
      labelNames: ['backend'],
      registers,
      collect() {
        this.reset();
        const worst = new Map<string, number>();
        for (const source of sources) {
          const { backend, state } = source.connection();
          worst.set(backend, Math.min(worst.get(backend) ?? state, state));
        }
        for (const [backend, state] of worst) {
          this.set({ backend }, state);
        }
      },
    });
    this.sessionLosses = new Counter({
      name: 'shardline_registry_session_losses_total',
      help: 'Registry sessions (ZooKeeper) or leases (etcd) lost.',
      registers,
    });
    this.requestDuration = new CellHistogram({
      name: 'shardline_registry_request_duration_seconds',
      help: 'Registry round trips by operation (cache answers are not requests).',
      labelNames: ['op', 'backend'],
      buckets: REQUEST_BUCKETS,
      registers,
    });
    new Gauge({
      name: 'shardline_registry_cache_nodes',
      help: 'Nodes held in the tree caches of this process.',
      registers,
      collect() {
        let total = 0;
        for (const source of sources) {
          total += source.cacheNodes();
        }
        this.set(total);
      },
    });
    const droppedSeen = this.droppedSeen;
    new Counter({
      name: 'shardline_history_dropped_total',
      help: 'Execution records a history sink gave up (buffer full, database slow or down).',
      labelNames: ['sink'],
      registers,
      collect() {
        for (const source of sources) {
          const seen = droppedSeen.get(source) ?? new Map<string, number>();
          droppedSeen.set(source, seen);
          for (const { sink, count } of source.dropped()) {
            const delta = count - (seen.get(sink) ?? 0);
            if (delta > 0) {
              this.inc({ sink }, delta);
              seen.set(sink, count);
            }
          }
        }
      },
    });
  }

  /** The counter cell of `job` × `outcome` in `shardline_executions_total` (keep it: the hot path's). */
  executionCell(job: string, outcome: string): CounterCell {
    const key = `${job}\u0000${outcome}`;
    let cell = this.executionCells.get(key);
    if (cell === undefined) {
      cell = new CounterCell({ job, outcome });
      this.executionCells.set(key, cell);
    }
    return cell;
  }

  attach(source: MetricsSource): () => void {
    this.sources.add(source);
    return () => {
      this.sources.delete(source);
    };
  }
}

const byRegister = new WeakMap<Registry, ShardlineMetrics>();

/** The Shardline metrics of `register`, created (registered) on first use. */
export function metricsFor(register: Registry): ShardlineMetrics {
  let metrics = byRegister.get(register);
  if (metrics === undefined) {
    metrics = new ShardlineMetrics(register);
    byRegister.set(register, metrics);
  }
  return metrics;
}
