import type { Tracer } from '@opentelemetry/api';
import type { ExecutionRecord } from '../history/execution-record';

/**
 * What a job runtime tells the worker's observability (metrics, history sinks) beyond its public events:
 * the facts the events do not carry. Every hook is synchronous and must not throw or wait on I/O — it runs
 * on the execution path (sinks buffer, metrics only count).
 */
export interface JobObserver {
  /** A cron fire ran `latenessMs` after its scheduled time. */
  fired(job: string, latenessMs: number): void;
  /** An execution ended, whatever its outcome (called before the `executed` / `failed` event). */
  executionEnded(record: ExecutionRecord): void;
  /** This instance claimed a crashed instance's item and starts its failover run. */
  failoverStarted(job: string): void;
  /** This instance, as the job's leader, committed a resharding pass. */
  resharded(job: string): void;
}

/** The observer of a worker without metrics or history. */
export const noopJobObserver: JobObserver = {
  fired: () => undefined,
  executionEnded: () => undefined,
  failoverStarted: () => undefined,
  resharded: () => undefined,
};

/** Observability handed to a job runtime: the observer, and the tracer its execution spans go to. */
export interface JobObservability {
  observer: JobObserver;
  tracer: Tracer;
}
