import { JobExecutionError, OwnershipLostError } from '../errors';
import { Backoff } from '../internal/backoff';
import type { Logger } from '../logger';
import type { JobDefinition, ShardingContext } from './define-job';
import type { JobConfig } from './job-config';

export interface ItemRun {
  item: number;
  fencingToken: number;
  failover: boolean;
  config: JobConfig;
  /** Aborted when the runtime stops at its deadline, on session loss, or by ownership checks. */
  signal: AbortSignal;
}

export interface ItemOutcome {
  item: number;
  durationMs: number;
  attempts: number;
  error: JobExecutionError | undefined;
  /**
   * The run ended because the item may no longer be ours (OwnershipLostError, or its signal aborted by a
   * fence, a session loss or the worker stopping) rather than by the handler's own failure.
   */
  interrupted: boolean;
}

/**
 * Runs one item of one job with the handler of its kind: builds the sharding context, applies the per-item
 * timeout and the retry policy, and turns every failure into a JobExecutionError (never a crash).
 *
 * Timeout semantics: at `timeoutMs` the attempt's signal aborts with a timeout reason; the attempt counts
 * as failed once the handler settles. The runtime keeps the item's running record until then, so an
 * item whose handler ignores its signal is still never started twice.
 */
export class Executor {
  private taskSeq = 0;

  constructor(
    private readonly definition: JobDefinition,
    private readonly instanceId: string,
    private readonly logger: Logger,
    /** Why the item may no longer be ours right now (wall-clock judged), or undefined. */
    private readonly ownershipProblem: () => string | undefined,
  ) {}

  async run(request: ItemRun): Promise<ItemOutcome> {
    const started = Date.now();
    const { retry } = request.config;
    let lastError: unknown;
    let attempt = 0;
    const backoff = new Backoff({ initialMs: retry.backoffMs, maxMs: retry.maxBackoffMs });
    while (attempt < retry.attempts) {
      attempt++;
      try {
        await this.attempt(request, attempt);
        return {
          item: request.item,
          durationMs: Date.now() - started,
          attempts: attempt,
          error: undefined,
          interrupted: false,
        };
      } catch (err) {
        lastError = err;
        if (
          request.signal.aborted ||
          err instanceof OwnershipLostError ||
          attempt >= retry.attempts
        ) {
          break;
        }
        this.logger.warn('item failed, retrying', { item: request.item, attempt, error: err });
        try {
          await backoff.sleep(request.signal);
        } catch {
          break;
        }
      }
    }
    return {
      item: request.item,
      durationMs: Date.now() - started,
      attempts: attempt,
      error: toExecutionError(this.definition.name, request.item, lastError),
      interrupted: request.signal.aborted || lastError instanceof OwnershipLostError,
    };
  }

  private async attempt(request: ItemRun, attempt: number): Promise<void> {
    const { config, item } = request;
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(request.signal.reason);
    request.signal.addEventListener('abort', onAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    if (config.timeoutMs > 0) {
      timer = setTimeout(
        () => controller.abort(new Error(`timed out after ${config.timeoutMs} ms`)),
        config.timeoutMs,
      );
    }
    const signal = controller.signal;
    const ctx: ShardingContext = {
      jobName: config.name,
      taskId: `${config.name}@-@${item}@-@${this.instanceId}@-@${++this.taskSeq}`,
      shardingItem: item,
      shardingParameter: config.shardingItemParameters[String(item)] ?? '',
      shardingTotalCount: config.shardingTotalCount,
      jobParameter: config.jobParameter,
      instanceId: this.instanceId,
      fencingToken: request.fencingToken,
      signal,
      logger: this.logger.child({ item }),
      attempt,
      failover: request.failover,
      checkOwnership: () => {
        if (signal.aborted) {
          throw new OwnershipLostError(config.name, item, describeReason(signal.reason));
        }
        const problem = this.ownershipProblem();
        if (problem !== undefined) {
          throw new OwnershipLostError(config.name, item, problem);
        }
      },
    };
    try {
      if (signal.aborted) {
        throw signal.reason;
      }
      await this.definition.run(ctx, config);
      if (signal.aborted && config.timeoutMs > 0 && !request.signal.aborted) {
        throw signal.reason; // finished, but only after its deadline
      }
    } finally {
      if (timer !== undefined) {
        clearTimeout(timer);
      }
      request.signal.removeEventListener('abort', onAbort);
    }
  }
}

function describeReason(reason: unknown): string {
  return reason instanceof Error ? reason.message : 'the execution was aborted';
}

function toExecutionError(jobName: string, item: number, err: unknown): JobExecutionError {
  if (err instanceof JobExecutionError) {
    return err;
  }
  const message = err instanceof Error ? err.message : String(err);
  return new JobExecutionError(jobName, item, message, { cause: err });
}
