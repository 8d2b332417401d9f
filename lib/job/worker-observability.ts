import { trace, type TracerProvider } from '@opentelemetry/api';
import type { Registry } from 'prom-client';
import type {
  ExecutionHistoryReader,
  ExecutionHistorySink,
  ExecutionRecord,
} from '../history/execution-record';
import { MemoryHistory } from '../history/memory-history';
import type { Logger } from '../logger';
import { WorkerMetrics, type MetricsWorkerView } from '../metrics/worker-metrics';
import { TRACER_NAME } from './execution-span';
import type { JobObservability, JobObserver } from './job-observer';

export interface ObservabilityOptions {
  metrics?: { register: Registry };
  /** Sinks; default one memory ring; `false` for none. */
  history?: ExecutionHistorySink | readonly ExecutionHistorySink[] | false;
  tracerProvider?: TracerProvider;
}

/**
 * A worker's metrics, history sinks and tracer behind one JobObserver. Every hook is guarded: a sink or
 * metric that throws is logged and never reaches the execution path.
 */
export class WorkerObservability implements JobObserver {
  readonly sinks: readonly ExecutionHistorySink[];
  /** The first sink that can be read (the default memory ring), for `worker.history`. */
  readonly reader: ExecutionHistoryReader | undefined;
  readonly jobObservability: JobObservability;
  private metrics: WorkerMetrics | undefined;

  constructor(
    private readonly options: ObservabilityOptions,
    private readonly logger: Logger,
  ) {
    const history = options.history;
    this.sinks =
      history === undefined
        ? [new MemoryHistory()]
        : history === false
          ? []
          : Array.isArray(history)
            ? [...(history as readonly ExecutionHistorySink[])]
            : [history as ExecutionHistorySink];
    this.reader = this.sinks.find(isReader);
    const provider = options.tracerProvider ?? trace.getTracerProvider();
    this.jobObservability = { observer: this, tracer: provider.getTracer(TRACER_NAME) };
  }

  /** Starts the metrics (when asked for) once the worker can be read. */
  startMetrics(view: MetricsWorkerView): void {
    if (this.options.metrics !== undefined) {
      this.metrics = new WorkerMetrics(this.options.metrics.register, view);
    }
  }

  fired(job: string, latenessMs: number): void {
    this.guard(() => this.metrics?.fired(job, latenessMs));
  }

  /** Once per execution: no closure per sink (a `guard(() => …)` each cost an allocation per call). */
  executionEnded(record: ExecutionRecord): void {
    for (const sink of this.sinks) {
      try {
        sink.record(record);
      } catch (err) {
        this.hookThrew(err);
      }
    }
    if (this.metrics !== undefined) {
      try {
        this.metrics.executionEnded(record);
      } catch (err) {
        this.hookThrew(err);
      }
    }
  }

  failoverStarted(job: string): void {
    this.guard(() => this.metrics?.failoverStarted(job));
  }

  resharded(job: string): void {
    this.guard(() => this.metrics?.resharded(job));
  }

  stalled(job: string, reason: string): void {
    this.guard(() => this.metrics?.stalled(job, reason));
  }

  dropped(): { sink: string; count: number }[] {
    return this.sinks
      .filter(s => s.dropped !== undefined)
      .map(s => ({ sink: s.name ?? 'custom', count: s.dropped ?? 0 }));
  }

  /** Detaches the metrics. The sinks are the application's: it closes them (the default ring needs none). */
  close(): void {
    this.metrics?.close();
    this.metrics = undefined;
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.hookThrew(err);
    }
  }

  private hookThrew(err: unknown): void {
    this.logger.error('an observability hook threw', { error: err });
  }
}

function isReader(
  sink: ExecutionHistorySink,
): sink is ExecutionHistorySink & ExecutionHistoryReader {
  return typeof (sink as Partial<ExecutionHistoryReader>).query === 'function';
}
