import { Backoff } from '../../internal/backoff';
import type { LeaderFence } from '../../registry/registry-center';
import type { JobContext } from '../job-context';

export type LeaderDuties = (signal: AbortSignal, fence: LeaderFence) => Promise<void>;

/** Campaigns that failed (registry unreachable) are tried again after these delays. */
const CAMPAIGN_BACKOFF = { initialMs: 100, maxMs: 2000 };

/**
 * Per-job leader election over the registry latch (`leader/election/latch`), ElasticJob's
 * LeaderService without its waits: every instance campaigns; the holder records itself in the ephemeral
 * `leader/election/instance` and runs its duties until the latch signal aborts (SUSPENDED, LOST, latch
 * node gone) or the service stops; then it campaigns again. Failures to campaign (registry unreachable)
 * are reported and retried with capped backoff — election never stops while the job runs, and a dead
 * leader's latch node goes with its session, so it cannot block the next one.
 */
export class ElectionService {
  private readonly stopper = new AbortController();
  private loop: Promise<void> | undefined;
  private leading = false;

  constructor(
    private readonly ctx: JobContext,
    private readonly onLeadership: (isLeader: boolean) => void,
    private readonly onError: (err: unknown) => void,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  start(duties: LeaderDuties): void {
    this.loop ??= this.campaign(duties);
  }

  async stop(): Promise<void> {
    this.stopper.abort();
    await this.loop;
  }

  private async campaign(duties: LeaderDuties): Promise<void> {
    const { registry, paths } = this.ctx;
    const backoff = new Backoff(CAMPAIGN_BACKOFF);
    while (!this.stopper.signal.aborted) {
      try {
        await registry.executeInLeader(
          paths.electionLatch,
          async (signal, fence) => {
            await registry.persistEphemeral(paths.electionInstance, this.ctx.instanceId);
            this.leading = true;
            this.onLeadership(true);
            try {
              await duties(signal, fence);
            } finally {
              this.leading = false;
              this.onLeadership(false);
              await this.resign();
            }
          },
          { signal: this.stopper.signal },
        );
        backoff.reset();
      } catch (err) {
        if (this.stopper.signal.aborted) {
          break;
        }
        this.onError(err);
        await backoff.sleep(this.stopper.signal).catch(() => undefined);
      }
    }
  }

  /** Removes our leader record if it is still ours; the next leader overwrites it anyway. */
  private async resign(): Promise<void> {
    const { registry, paths } = this.ctx;
    try {
      if ((await registry.getDirectly(paths.electionInstance)) === this.ctx.instanceId) {
        await registry.remove(paths.electionInstance);
      }
    } catch (err) {
      this.ctx.logger.debug('leader record not removed', { error: err });
    }
  }
}
