import type { JobContext } from '../job-context';

export type CommandKind = 'trigger' | 'shutdown';

/**
 * Per-instance operator commands (`trigger/{instanceId}`, `shutdown/{instanceId}`), written by the
 * operations API for each live instance. A command is consumed — its node deleted — before it is acted
 * on, so it runs once; a failed delete is reported and the command still honoured. Commands addressed to
 * an earlier life of this instance id (written while it was down) are void and cleared at start-up.
 */
export class CommandService {
  private readonly path: string;

  constructor(
    private readonly ctx: JobContext,
    readonly kind: CommandKind,
  ) {
    this.path =
      kind === 'trigger' ? ctx.paths.trigger(ctx.instanceId) : ctx.paths.shutdown(ctx.instanceId);
  }

  /** True when `path` is this instance's command node of this kind. */
  isMine(path: string): boolean {
    return path === this.path;
  }

  /**
   * Removes a command written before this life's instance node (call after registering): one written
   * since is addressed to this life and stays.
   */
  async clearStale(): Promise<void> {
    if (!this.ctx.cache().has(this.path)) {
      return;
    }
    const { registry, paths, instanceId } = this.ctx;
    const [command, instance] = await Promise.all([
      registry.getStat(this.path),
      registry.getStat(paths.instance(instanceId)),
    ]);
    if (command !== null && (instance === null || command.stamp < instance.stamp)) {
      await registry.remove(this.path);
    }
  }

  consume(act: () => void): void {
    this.ctx.registry.remove(this.path).then(act, (err: unknown) => {
      this.ctx.logger.warn('command node not removed', { path: this.path, error: err });
      act();
    });
  }
}
