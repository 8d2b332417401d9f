import { isRetryable } from '../errors';
import { delay } from '../internal/async';
import { Backoff } from '../internal/backoff';
import type { Logger } from '../logger';

/** Delays between tries of one start step: from 100 ms, doubling, at most 1 s. */
const START_BACKOFF = { initialMs: 100, maxMs: 1_000 };

/** The window a job's start keeps retrying registry failures in: 2 session timeouts, at least 10 s. */
export function startRetryWindowMs(sessionTimeoutMs: number): number {
  return Math.max(10_000, 2 * sessionTimeoutMs);
}

export interface StartRetryOptions {
  /** Epoch ms after which a failed step is not tried again: its error ends the start. */
  deadline: number;
  logger: Logger;
  /** The job was stopped meanwhile: give up at once. */
  isStopped(): boolean;
  random?: () => number;
}

/**
 * Runs the registry steps of a job's start, each tried again after a retryable failure
 * (`ConnectionLossError`, `OperationTimeoutError`, `SessionExpiredError`) until `deadline`.
 *
 * Why: on an ensemble or cluster, the server a client talks to may die in the middle of `startWorker`; the
 * client moves to another server within a second or two, but the request in flight fails (ambiguously).
 * Without this, that one failure made `startWorker` reject and `shardline run` exit although a quorum was
 * up (found by the topology chaos test: a restarted worker died at start-up in 7 of 8 tries with its
 * ZooKeeper member killed 0–105 ms into the start).
 *
 * Every step given here must be safe to run again after an ambiguous failure: the configuration is written
 * only if absent (else adopted), the instance node judged `ours` is kept, stale commands are deleted,
 * a resharding request is a plain upsert. Non-retryable errors (`InstanceIdConflictError`, a bad
 * configuration, a refused permission) end the start at once, as before.
 */
export class StartSteps {
  private readonly backoff: Backoff;

  constructor(private readonly o: StartRetryOptions) {
    this.backoff = new Backoff({ ...START_BACKOFF, random: o.random });
  }

  async run<T>(what: string, step: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await step();
        this.backoff.reset();
        return result;
      } catch (err) {
        const wait = this.backoff.next();
        if (!isRetryable(err) || this.o.isStopped() || Date.now() + wait > this.o.deadline) {
          throw err;
        }
        this.o.logger.warn('job start: a registry step failed, trying it again', {
          step: what,
          attempt,
          error: err,
        });
        await delay(wait);
      }
    }
  }
}
