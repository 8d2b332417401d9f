import { parseInstanceInfo, serializeInstanceInfo, type InstanceInfo } from '../job-instance';
import type { JobContext } from '../job-context';

const INSTANCE_SEPARATOR = '@-@';

/**
 * `instances/{instanceId}`: this worker's ephemeral membership node (ElasticJob's InstanceService).
 * The node lives as long as the registry session; after LOST the runtime calls `register()` again.
 */
export class InstanceService {
  constructor(
    private readonly ctx: JobContext,
    private readonly info: InstanceInfo,
  ) {}

  async register(): Promise<void> {
    await this.ctx.registry.persistEphemeral(
      this.ctx.paths.instance(this.ctx.instanceId),
      serializeInstanceInfo(this.info),
    );
  }

  /** Whether the registry holds this instance's node with this life's value (a round trip, not the cache). */
  async isRegistered(): Promise<boolean> {
    const raw = await this.ctx.registry.getDirectly(this.ctx.paths.instance(this.ctx.instanceId));
    return raw === serializeInstanceInfo(this.info);
  }

  async unregister(): Promise<void> {
    await this.ctx.registry.remove(this.ctx.paths.instance(this.ctx.instanceId));
  }

  /** Live instance ids, sorted ascending (from the cache). */
  liveInstances(): string[] {
    return this.ctx.cache().children(this.ctx.paths.instances);
  }

  isLive(instanceId: string): boolean {
    return this.ctx.cache().has(this.ctx.paths.instance(instanceId));
  }

  /**
   * Whether a record written at `recordStamp` by `instanceId` belongs to a live session: the instance node
   * exists and was created before the record. A node created after the record is a later life of the same
   * id (a restarted pod), so the record's writer is dead.
   */
  ownsLiveRecord(instanceId: string, recordStamp: bigint): boolean {
    const node = this.ctx.cache().getData(this.ctx.paths.instance(instanceId));
    return node !== undefined && node.stamp < recordStamp;
  }

  /**
   * The server ip of a live instance: from its node's value, else from a default `{ip}@-@{pid}` id.
   * An unreadable node is reported and treated by its id.
   */
  ipOf(instanceId: string): string {
    const path = this.ctx.paths.instance(instanceId);
    const raw = this.ctx.cache().get(path);
    if (raw !== null) {
      try {
        return parseInstanceInfo(path, raw).ip;
      } catch (err) {
        this.ctx.logger.warn('unreadable instance node', { path, error: err });
      }
    }
    const at = instanceId.indexOf(INSTANCE_SEPARATOR);
    return at > 0 ? instanceId.slice(0, at) : instanceId;
  }
}
