import type { ExecutionTrigger } from '../history/execution-record';
import type { ItemOutcome } from './executor';
import type { JobConfig } from './job-config';
import type { JobContext } from './job-context';
import type { JobEventSink } from './job-events';
import type { MisfireService } from './services/misfire-service';
import type { ShardingService } from './services/sharding-service';

/** What the queue needs of the side that starts runs (ItemLauncher). */
export interface OwedRunLauncher {
  readonly isClosed: boolean;
  readonly isConnected: boolean;
  mayStart(): boolean;
  isActive(item: number): boolean;
  isRunning(item: number): boolean;
  sessionLivesOn(sessionEpoch: number | undefined): boolean;
  launch(item: number, trigger: ExecutionTrigger): Promise<void>;
}

export interface MisfireQueueOptions {
  ctx: JobContext;
  misfire: MisfireService;
  sharding: ShardingService;
  config: () => JobConfig;
  events: JobEventSink;
  report: (err: unknown) => void;
}

/**
 * The runs this instance owes (ElasticJob's misfire, plus runs fenced while the session lived): at most
 * one per item, mirrored in `sharding/{n}/misfire` for operators, each run once as soon as it may.
 *
 * - A fire that finds an item running (here or on another instance) owes one run (`misfire` on), emitted
 *   as `misfire`; further fires while it is owed coalesce into it.
 * - A run interrupted because the item may no longer be ours (a fence in doubt or SUSPENDED, not a
 *   session loss or a stop) while the session that claimed it lived on owes one more run: the fire did not
 *   complete, and nobody else will run it (our session never ended, so no failover).
 * - An owed run starts when the item's run ends (here, or its running record goes away elsewhere), or
 *   when contact is back (`resume`): it is held while the guard is not connected. It is dropped (its node
 *   cleared) when `misfire` was turned off, the item is no longer ours, or this instance may not start work.
 */
export class MisfireQueue {
  private readonly owed = new Set<number>();

  constructor(
    private readonly o: MisfireQueueOptions,
    private readonly launcher: OwedRunLauncher,
  ) {}

  /** A fire found the item busy: owe one run (coalesced), tell listeners and mark the node. */
  async add(item: number, config: JobConfig): Promise<void> {
    if (!config.misfire) {
      return;
    }
    if (this.owed.has(item)) {
      return; // already one run owed: misfires coalesce
    }
    this.owed.add(item);
    this.o.events('misfire', { job: this.o.ctx.jobName, item });
    await this.o.misfire.mark(item);
  }

  /** A run of ours ended: owe one more if it was interrupted while our session lived, then run what is owed. */
  runEnded(item: number, outcome: ItemOutcome | undefined, sessionEpoch: number | undefined): void {
    if (outcome?.interrupted === true && this.launcher.sessionLivesOn(sessionEpoch)) {
      void this.add(item, this.o.config())
        .catch(err => this.o.report(err))
        .then(() => this.runOwed(item));
    } else {
      this.runOwed(item);
    }
  }

  /** The item's running record went away (its run ended somewhere): run what is owed now. */
  released(item: number): void {
    if (!this.launcher.isRunning(item)) {
      this.runOwed(item);
    }
  }

  /** Contact is back: run every owed run that was held. */
  resume(): void {
    for (const item of [...this.owed]) {
      this.runOwed(item);
    }
  }

  private runOwed(item: number): void {
    const config = this.o.config();
    if (!this.owed.has(item) || this.launcher.isActive(item)) {
      return;
    }
    if (!this.launcher.isClosed && !this.launcher.isConnected && config.misfire) {
      return; // held until contact is back (`resume`)
    }
    this.owed.delete(item);
    if (
      !config.misfire ||
      this.o.sharding.ownerOf(item) !== this.o.ctx.instanceId ||
      !this.launcher.mayStart()
    ) {
      void this.o.misfire.clear(item).catch(err => this.o.report(err));
      return;
    }
    void (async () => {
      try {
        await this.o.misfire.clear(item);
        if (!this.o.sharding.isItemDisabled(item)) {
          await this.launcher.launch(item, 'misfire');
        }
      } catch (err) {
        this.o.report(err);
      }
    })();
  }
}
