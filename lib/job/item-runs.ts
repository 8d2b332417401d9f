import { trace } from '@opentelemetry/api';
import type { ExecutionRecord, ExecutionTrigger } from '../history/execution-record';
import type { Executor, ItemOutcome } from './executor';
import { ExecutionSpan, TRACER_NAME } from './execution-span';
import type { JobConfig } from './job-config';
import type { JobContext } from './job-context';
import type { JobEventSink } from './job-events';
import { noopJobObserver, type JobObservability } from './job-observer';
import type { ExecutionService } from './services/execution-service';

/** One claimed run about to start. */
export interface ClaimedRun {
  item: number;
  fencingToken: number;
  /** The session that wrote the running record; `undefined` without monitorExecution (no record). */
  sessionEpoch: number | undefined;
  config: JobConfig;
  failover: boolean;
  /** Where the run started (history records, spans); default `failover` for a failover run, else `cron`. */
  trigger?: ExecutionTrigger;
}

interface Running {
  controller: AbortController;
  done: Promise<void>;
  /** Epoch ms when the run started, to say how long an abandoned handler ran. */
  startedAt: number;
}

/** Extra time given to aborted handlers at the end of a drain before the worker leaves anyway. */
const ABORT_GRACE_MS = 2_000;
/** The error message kept in an item's `last` node is cut to this many characters (the registry is small). */
const LAST_ERROR_MAX_CHARS = 500;

/**
 * The runs in progress on this instance for one job: starts a claimed run on the executor, releases its
 * running record when it ends, reports `executed` / `failed`, and lets the scheduler abort or drain them.
 * The event comes after the release, so a listener that sees `executed` knows the record is gone.
 */
export class ItemRuns {
  private readonly running = new Map<number, Running>();

  constructor(
    private readonly ctx: JobContext,
    private readonly executor: Executor,
    private readonly execution: ExecutionService,
    private readonly events: JobEventSink,
    private readonly report: (err: unknown) => void,
    private readonly abortGraceMs = ABORT_GRACE_MS,
    private readonly observability: JobObservability = {
      observer: noopJobObserver,
      tracer: trace.getTracer(TRACER_NAME),
    },
  ) {}

  get size(): number {
    return this.running.size;
  }

  has(item: number): boolean {
    return this.running.has(item);
  }

  /** Starts `run`; `ended` is called once it has ended and its record was released. */
  start(run: ClaimedRun, ended: (item: number, outcome: ItemOutcome) => void): void {
    const controller = new AbortController();
    const { item, fencingToken, sessionEpoch, config, failover } = run;
    const trigger = run.trigger ?? (failover ? 'failover' : 'cron');
    const job = this.ctx.jobName;
    const instanceId = this.ctx.instanceId;
    const started = { job, item, instanceId, fencingToken, trigger, startedAt: Date.now() };
    const toRecord = (result: ItemOutcome): ExecutionRecord => ({
      ...started,
      endedAt: Date.now(),
      outcome:
        result.error === undefined ? 'succeeded' : controller.signal.aborted ? 'aborted' : 'failed',
      ...(result.error === undefined ? {} : { error: result.error.message }),
    });
    const done = (async () => {
      const span = ExecutionSpan.start(this.observability.tracer, started);
      const outcome = await span.run(() =>
        this.executor.run({ item, fencingToken, failover, config, signal: controller.signal }),
      );
      const record = toRecord(outcome);
      span.end(record);
      if (sessionEpoch !== undefined) {
        await this.execution
          .release(item, sessionEpoch, failover, lastExecution(record))
          .catch(err => this.report(err));
      }
      this.running.delete(item);
      this.observability.observer.executionEnded(record);
      if (outcome.error === undefined) {
        this.events('executed', {
          job,
          item,
          instanceId,
          durationMs: outcome.durationMs,
          attempts: outcome.attempts,
          fencingToken,
          failover,
        });
      } else {
        this.ctx.logger.warn('item failed', { item, error: outcome.error });
        this.events('failed', {
          job,
          item,
          instanceId,
          attempts: outcome.attempts,
          error: outcome.error,
        });
      }
      ended(item, outcome);
    })();
    this.running.set(item, { controller, done, startedAt: Date.now() });
  }

  abortAll(reason: string): void {
    for (const r of this.running.values()) {
      r.controller.abort(new Error(reason));
    }
  }

  /**
   * Waits for the runs up to `timeoutMs`, then aborts them and gives them a short grace. A handler still
   * running after that is abandoned (the worker leaves; its code may go on in this process): each one is
   * logged at warn with the job, the item and how long it ran, since nothing else will report it.
   */
  async drain(timeoutMs: number): Promise<void> {
    if (this.running.size === 0) {
      return;
    }
    const all = (): Promise<unknown> =>
      Promise.allSettled([...this.running.values()].map(r => r.done));
    if (!(await settlesWithin(all(), timeoutMs))) {
      this.abortAll('the worker is stopping');
      if (!(await settlesWithin(all(), this.abortGraceMs))) {
        const now = Date.now();
        for (const [item, run] of this.running) {
          this.ctx.logger.warn('handler abandoned after the drain deadline', {
            job: this.ctx.jobName,
            item,
            ranForMs: now - run.startedAt,
            drainTimeoutMs: timeoutMs,
            abortGraceMs: this.abortGraceMs,
          });
        }
      }
    }
  }
}

/** The item's `last` node: the record without job and item, its error message cut short. */
function lastExecution(record: ExecutionRecord): string {
  const { instanceId, fencingToken, trigger, startedAt, endedAt, outcome, error } = record;
  return JSON.stringify({
    instanceId,
    fencingToken,
    trigger,
    startedAt,
    endedAt,
    outcome,
    ...(error === undefined
      ? {}
      : {
          error:
            error.length > LAST_ERROR_MAX_CHARS
              ? `${error.slice(0, LAST_ERROR_MAX_CHARS)}…`
              : error,
        }),
  });
}

async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>(resolve => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
