import type { JobEventSink } from './job-events';
import type { ShardingService } from './services/sharding-service';

/**
 * The `sharded` event of one job on this instance: told by the cache whenever an item's owner or the
 * assignment generation changed, it announces the items this instance owns once the assignment has
 * settled.
 *
 * - One resharding transaction arrives as several node events in one batch: the assignment is judged
 *   once after the batch (`setImmediate`), so listeners never see an assignment that was never written.
 * - Emitted after every settled resharding (a new generation), changed or not — a listener that
 *   subscribed late learns its items from the next one — and whenever the items change; never while
 *   resharding is pending, and never before a first assignment was written.
 */
export class AssignmentNotifier {
  private check: NodeJS.Immediate | undefined;
  private lastAnnounced = '';
  private closed = false;

  constructor(
    private readonly jobName: string,
    private readonly sharding: Pick<
      ShardingService,
      'isPending' | 'isAssignmentComplete' | 'generation' | 'localItems'
    >,
    private readonly events: JobEventSink,
  ) {}

  /** An item's owner or the generation changed (or the job started): judge after the current batch. */
  changed(): void {
    if (this.check === undefined && !this.closed) {
      this.check = setImmediate(() => {
        this.check = undefined;
        this.announce();
      });
    }
  }

  /** The items this instance owns now (ascending); `[]` while resharding is pending. */
  currentItems(): number[] {
    return this.isSettled() ? this.sharding.localItems() : [];
  }

  close(): void {
    this.closed = true;
    if (this.check !== undefined) {
      clearImmediate(this.check);
      this.check = undefined;
    }
  }

  private isSettled(): boolean {
    return !this.sharding.isPending() && this.sharding.isAssignmentComplete();
  }

  private announce(): void {
    if (this.closed || !this.isSettled()) {
      return; // the rest of the batch (or of a split delivery) will call again
    }
    const generation = this.sharding.generation().value;
    if (generation === 0) {
      return; // no assignment was ever written (our own resharding request may not be cached yet)
    }
    const items = this.sharding.localItems();
    const key = `${generation}:${items.join(',')}`;
    if (key !== this.lastAnnounced) {
      this.lastAnnounced = key;
      this.events('sharded', { job: this.jobName, items });
    }
  }
}
