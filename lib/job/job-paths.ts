import { joinPath, validateSegment } from '../internal/paths';

/** Item owner paths kept for items below this (see itemInstance). */
const MAX_KEPT_ITEM_PATHS = 100_000;

/**
 * Every node path of a job, in one place (pure). ElasticJob's node names are kept so that
 * operators' habits carry over:
 *
 * ```
 * /{job}/config                          P  configuration (JSON, schema version)
 * /{job}/servers/{ip}                    P  'ENABLED' | 'DISABLED' (operator intent)
 * /{job}/instances/{instanceId}          E  { host, ip, pid, labels, startedAt, version }
 * /{job}/sharding/{item}/instance        P  owning instanceId (leader-written, one transaction)
 * /{job}/sharding/{item}/running         E  instanceId running it
 * /{job}/sharding/{item}/failover        E  instanceId running it by failover
 * /{job}/sharding/{item}/disabled        P  item disabled by an operator
 * /{job}/sharding/{item}/misfire         P  a fire was missed while the item ran
 * /{job}/leader/election/instance        E  the leader's instanceId
 * /{job}/leader/election/latch              latch
 * /{job}/leader/sharding/necessary       P  resharding requested
 * /{job}/leader/sharding/processing      E  leader is resharding
 * /{job}/leader/failover/items/{item}    P  in-flight items of a crashed instance
 * /{job}/leader/failover/latch              latch
 * /{job}/trigger/{instanceId}            P  run-now request
 * /{job}/shutdown/{instanceId}           P  explicit shutdown command
 * ```
 */
export class JobPaths {
  readonly root: string;
  private readonly itemInstances: string[] = [];

  constructor(readonly jobName: string) {
    validateSegment(jobName, 'a job name');
    this.root = joinPath('/', jobName);
  }

  get config(): string {
    return joinPath(this.root, 'config');
  }
  get servers(): string {
    return joinPath(this.root, 'servers');
  }
  server(ip: string): string {
    return joinPath(this.servers, validateSegment(ip, 'a server ip'));
  }
  get instances(): string {
    return joinPath(this.root, 'instances');
  }
  instance(instanceId: string): string {
    return joinPath(this.instances, validateSegment(instanceId, 'an instance id'));
  }
  get sharding(): string {
    return joinPath(this.root, 'sharding');
  }
  item(item: number): string {
    return joinPath(this.sharding, String(item));
  }
  /**
   * Kept per item once built: the owner of every item is read on each fire and each metrics scrape, and a
   * kept string keeps the hash the cache's Map lookup computed (a fresh one is built and hashed anew).
   */
  itemInstance(item: number): string {
    if (Number.isInteger(item) && item >= 0 && item < MAX_KEPT_ITEM_PATHS) {
      return (this.itemInstances[item] ??= joinPath(this.item(item), 'instance'));
    }
    return joinPath(this.item(item), 'instance');
  }
  itemRunning(item: number): string {
    return joinPath(this.item(item), 'running');
  }
  itemFailover(item: number): string {
    return joinPath(this.item(item), 'failover');
  }
  itemDisabled(item: number): string {
    return joinPath(this.item(item), 'disabled');
  }
  itemMisfire(item: number): string {
    return joinPath(this.item(item), 'misfire');
  }
  /**
   * P: the item's last execution (an ExecutionRecord's JSON without job and item), written by the
   * release transaction itself — the console's "last run" without a history store or an extra write.
   */
  itemLast(item: number): string {
    return joinPath(this.item(item), 'last');
  }
  get leader(): string {
    return joinPath(this.root, 'leader');
  }
  get electionLatch(): string {
    return joinPath(this.leader, 'election', 'latch');
  }
  get electionInstance(): string {
    return joinPath(this.leader, 'election', 'instance');
  }
  get shardingNecessary(): string {
    return joinPath(this.leader, 'sharding', 'necessary');
  }
  get shardingProcessing(): string {
    return joinPath(this.leader, 'sharding', 'processing');
  }
  get failoverItems(): string {
    return joinPath(this.leader, 'failover', 'items');
  }
  failoverItem(item: number): string {
    return joinPath(this.failoverItems, String(item));
  }
  get failoverLatch(): string {
    return joinPath(this.leader, 'failover', 'latch');
  }
  get triggers(): string {
    return joinPath(this.root, 'trigger');
  }
  trigger(instanceId: string): string {
    return joinPath(this.triggers, validateSegment(instanceId, 'an instance id'));
  }
  get shutdowns(): string {
    return joinPath(this.root, 'shutdown');
  }
  shutdown(instanceId: string): string {
    return joinPath(this.shutdowns, validateSegment(instanceId, 'an instance id'));
  }

  /**
   * Classifies a path under the job root (as seen in cache events) so reactions can dispatch on it;
   * `undefined` for anything else.
   */
  classify(path: string): JobNode | undefined {
    if (!path.startsWith(this.root + '/')) {
      return undefined;
    }
    const parts = path.slice(this.root.length + 1).split('/');
    const [head, a, b, c] = parts;
    switch (head) {
      case 'config':
        return parts.length === 1 ? { kind: 'config' } : undefined;
      case 'servers':
        return parts.length === 2 && a !== undefined ? { kind: 'server', ip: a } : undefined;
      case 'instances':
        return parts.length === 2 && a !== undefined
          ? { kind: 'instance', instanceId: a }
          : undefined;
      case 'trigger':
        return parts.length === 2 && a !== undefined
          ? { kind: 'trigger', instanceId: a }
          : undefined;
      case 'shutdown':
        return parts.length === 2 && a !== undefined
          ? { kind: 'shutdown', instanceId: a }
          : undefined;
      case 'sharding': {
        const item = a === undefined ? NaN : Number(a);
        if (parts.length !== 3 || !Number.isInteger(item) || item < 0 || b === undefined) {
          return undefined;
        }
        return isItemNode(b) ? { kind: 'item', item, node: b } : undefined;
      }
      case 'leader':
        if (a === 'sharding' && parts.length === 3 && (b === 'necessary' || b === 'processing')) {
          return { kind: 'leaderSharding', node: b };
        }
        if (a === 'election' && parts.length === 3 && b === 'instance') {
          return { kind: 'leaderInstance' };
        }
        if (a === 'failover' && b === 'items' && parts.length === 4 && c !== undefined) {
          const item = Number(c);
          return Number.isInteger(item) && item >= 0 ? { kind: 'failoverItem', item } : undefined;
        }
        return undefined;
      default:
        return undefined;
    }
  }
}

export type ItemNode = 'instance' | 'running' | 'failover' | 'disabled' | 'misfire';

function isItemNode(name: string): name is ItemNode {
  return (
    name === 'instance' ||
    name === 'running' ||
    name === 'failover' ||
    name === 'disabled' ||
    name === 'misfire'
  );
}

export type JobNode =
  | { kind: 'config' }
  | { kind: 'server'; ip: string }
  | { kind: 'instance'; instanceId: string }
  | { kind: 'trigger'; instanceId: string }
  | { kind: 'shutdown'; instanceId: string }
  | { kind: 'item'; item: number; node: ItemNode }
  | { kind: 'leaderSharding'; node: 'necessary' | 'processing' }
  | { kind: 'leaderInstance' }
  | { kind: 'failoverItem'; item: number };
