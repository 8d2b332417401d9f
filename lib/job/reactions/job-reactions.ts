import type { RegistryEvent } from '../../registry/registry-center';
import type { JobContext } from '../job-context';

export interface JobReactionHandlers {
  /** `config` added/updated (value) or removed (null). */
  onConfigValue(raw: string | null): void;
  /** Instances joined/left, a server was enabled/disabled, or an item was disabled/enabled. */
  onMembershipChanged(): void;
  /** `leader/sharding/necessary` appeared. */
  onShardingRequested(): void;
  /** An item's owner or the generation changed, or resharding settled. */
  onAssignmentChanged(): void;
  /** An item's running record was removed. */
  onItemReleased(item: number): void;
  /** An item was queued for failover. */
  onFailoverQueued(): void;
  /** A run-now request for this instance appeared. */
  onTrigger(): void;
  /** A shutdown command for this instance appeared. */
  onShutdown(): void;
  /** This instance's own membership node vanished while the session lives (an operator removed it). */
  onOwnInstanceRemoved(): void;
}

/**
 * Cache events → service calls (ElasticJob's *ListenerManager classes in one dispatcher): each path under
 * the job root is classified once by JobPaths and routed. Handlers must not throw; they report their own
 * failures.
 */
export class JobReactions {
  constructor(
    private readonly ctx: JobContext,
    private readonly h: JobReactionHandlers,
  ) {}

  readonly handle = (event: RegistryEvent): void => {
    const { paths, instanceId, registry } = this.ctx;
    if (event.path === paths.sharding) {
      this.h.onAssignmentChanged();
      return;
    }
    const node = paths.classify(event.path);
    if (node === undefined) {
      return;
    }
    switch (node.kind) {
      case 'config':
        this.h.onConfigValue(event.type === 'removed' ? null : event.value);
        return;
      case 'instance':
        if (node.instanceId === instanceId && event.type === 'removed') {
          const state = registry.connectionState;
          if (state === 'CONNECTED' || state === 'RECONNECTED') {
            this.h.onOwnInstanceRemoved();
          }
        }
        this.h.onMembershipChanged();
        return;
      case 'server':
        this.h.onMembershipChanged();
        return;
      case 'leaderSharding':
        if (event.type === 'removed') {
          this.h.onAssignmentChanged();
        } else if (node.node === 'necessary') {
          this.h.onShardingRequested();
        }
        return;
      case 'item':
        if (node.node === 'instance') {
          this.h.onAssignmentChanged();
        } else if (node.node === 'running' && event.type === 'removed') {
          this.h.onItemReleased(node.item);
        }
        return;
      case 'failoverItem':
        if (event.type === 'added') {
          this.h.onFailoverQueued();
        }
        return;
      case 'trigger':
        if (node.instanceId === instanceId && event.type !== 'removed') {
          this.h.onTrigger();
        }
        return;
      case 'shutdown':
        if (node.instanceId === instanceId && event.type !== 'removed') {
          this.h.onShutdown();
        }
        return;
      default:
        return;
    }
  };
}
