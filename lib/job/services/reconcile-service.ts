import type { JobConfig } from '../job-config';
import type { ScheduledTask, Scheduler } from '../scheduler/scheduler';

/**
 * The leader's periodic reconcile (ElasticJob's ReconcileService): every `reconcileIntervalMinutes` it
 * wakes the leader, which compares the stored assignment with what the strategy produces now and
 * reshards when they differ (`ShardingService.isOutOfDate`). Reactions already reshard on every relevant
 * change; this is the safety net for anything they missed. Runs on the worker's one scheduler, only while
 * leading (0 minutes = off).
 */
export class ReconcileService {
  private task: ScheduledTask | undefined;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly config: () => JobConfig,
  ) {}

  /** Wake the leader periodically until `signal` aborts (the end of this leadership term). */
  start(signal: AbortSignal, wake: () => void): void {
    const schedule = (): void => {
      const minutes = this.config().reconcileIntervalMinutes;
      if (minutes > 0 && !signal.aborted) {
        this.task = this.scheduler.at(Date.now() + minutes * 60_000, () => {
          wake();
          schedule();
        });
      }
    };
    schedule();
    signal.addEventListener('abort', () => this.task?.cancel(), { once: true });
  }
}
