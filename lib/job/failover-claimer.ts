import type { ClaimedRun } from './item-runs';
import type { JobConfig } from './job-config';
import type { JobContext } from './job-context';
import type { FailoverService } from './services/failover-service';

/** What the claimer needs of the side that starts runs (ItemLauncher). */
export interface ClaimedRunLauncher {
  readonly isClosed: boolean;
  isBusy(): boolean;
  mayStart(): boolean;
  launchClaimed(run: ClaimedRun & { sessionEpoch: number }): Promise<void>;
}

export interface FailoverClaimerOptions {
  ctx: JobContext;
  failover: FailoverService;
  config: () => JobConfig;
  report: (err: unknown) => void;
}

/** Pause before a failover claim that failed on a registry error is tried again. */
const FAILOVER_RETRY_MS = 500;

/**
 * This instance's side of failover: when crashed instances' in-flight items are queued (or this instance
 * became idle, or contact came back), an idle instance that may start work claims one item
 * (FailoverService.claim) and runs it once, as a failover run.
 *
 * No lost wake-ups: a call while a claim is in flight is not dropped — the claim may have read the queue
 * before the new entry — so it looks again when the claim ends; a claim that failed on a registry error
 * looks again after a pause.
 */
export class FailoverClaimer {
  private claiming = false;
  /** available() was called while a claim was in flight. */
  private recheck = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly o: FailoverClaimerOptions,
    private readonly launcher: ClaimedRunLauncher,
  ) {}

  close(): void {
    clearTimeout(this.retry);
  }

  /** A claim is in flight (until its run has started or the claim was given back). */
  get isClaiming(): boolean {
    return this.claiming;
  }

  /** Failover items are queued (or we became idle): claim one if this instance is idle. */
  available(): void {
    if (this.claiming) {
      this.recheck = true;
      return;
    }
    const config = this.o.config();
    if (
      !config.failover ||
      !config.monitorExecution ||
      this.launcher.isBusy() ||
      !this.launcher.mayStart() ||
      this.o.failover.pendingItems().length === 0
    ) {
      return;
    }
    this.claiming = true;
    void this.claimOne();
  }

  private async claimOne(): Promise<void> {
    try {
      const claim = await this.o.failover.claim(this.o.ctx.registry.sessionTimeoutMs);
      if (claim !== undefined) {
        await this.launcher.launchClaimed({
          ...claim,
          config: this.o.config(),
          failover: true,
          trigger: 'failover',
        });
      }
    } catch (err) {
      this.o.report(err);
      this.retry ??= setTimeout(() => {
        this.retry = undefined;
        this.available();
      }, FAILOVER_RETRY_MS);
    } finally {
      this.claiming = false;
      if (this.recheck && !this.launcher.isClosed) {
        this.recheck = false;
        this.available();
      }
    }
  }
}
