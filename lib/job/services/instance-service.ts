import {
  CorruptedDataError,
  InstanceIdConflictError,
  NodeExistsError,
  TransactionError,
} from '../../errors';
import { Deferred } from '../../internal/async';
import type { NodeStat } from '../../registry/registry-center';
import { parseInstanceInfo, serializeInstanceInfo, type InstanceInfo } from '../job-instance';
import type { JobContext } from '../job-context';
import { createIfAbsent } from './create-if-absent';
import { removeDeadProcessLatches } from './dead-process-latches';
import { judgeHolder, type HolderVerdict } from './instance-holder';

const INSTANCE_SEPARATOR = '@-@';
const REGISTER_ATTEMPTS = 20;

/**
 * `instances/{instanceId}`: this worker's ephemeral membership node (ElasticJob's InstanceService).
 * The node lives as long as the registry session; after LOST the runtime calls `register()` again.
 *
 * One live process per id (see {@link judgeHolder} for the rule): registering over a node left by an
 * earlier, dead life of this id replaces it (and, when that life's whole process is gone, removes its
 * latch nodes: `removeDeadProcessLatches`); a node of another live process is never replaced —
 * `register()` throws `InstanceIdConflictError`. At the first registration a holder that may be alive is
 * given up to 1.5 session timeouts + 1 s to vanish (a crashed holder's session expires meanwhile), so a
 * restart right after a crash on another host still starts; at a re-registration it is not waited for.
 *
 * Membership: only an ephemeral node whose value reads as an instance is a member. A persistent or
 * unreadable node under `instances/` is never a member (never given items, never an owner of a live
 * record) and is reported once (per node version) through `report` as `CorruptedDataError`.
 */
export class InstanceService {
  private registeredOnce = false;
  /**
   * The session (registry sessionEpoch) our node was created on. A node holding this life's value but made
   * on an earlier session of ours is bound to that session: it vanishes when that session expires — after
   * the client gave it up locally (no contact for T), the server may keep it up to a tick longer.
   */
  private boundEpoch: number | undefined;
  private registering: Promise<void> | undefined;
  /**
   * Membership judged per node version (path → stamp, and the member's ip or `null` for a non-member): a
   * node is parsed — and a non-member reported — once per version, not on every pass or record check.
   */
  private readonly judged = new Map<string, { stamp: bigint; ip: string | null }>();

  constructor(
    private readonly ctx: JobContext,
    private readonly info: InstanceInfo,
    private readonly report: (err: CorruptedDataError) => void,
  ) {}

  /**
   * Registers this life's node (see the class doc for the rule). Concurrent calls share one registration:
   * the `removed` event of a node we replace must not start a second one that replaces ours again.
   */
  register(): Promise<void> {
    this.registering ??= this.registerOnce().finally(() => {
      this.registering = undefined;
    });
    return this.registering;
  }

  private async registerOnce(): Promise<void> {
    const { registry, paths, instanceId } = this.ctx;
    const path = paths.instance(instanceId);
    const value = serializeInstanceInfo(this.info);
    const waitMs = this.registeredOnce ? 0 : registry.sessionTimeoutMs * 1.5 + 1000;
    const deadline = Date.now() + waitMs;
    for (let attempt = 1; ; attempt++) {
      const stat = await registry.getStat(path);
      const judged = judgeHolder(stat, this.info);
      if (judged.verdict === 'live' || (judged.verdict === 'maybeLive' && Date.now() >= deadline)) {
        throw new InstanceIdConflictError(instanceId, path, judged.holder);
      }
      if (judged.verdict === 'maybeLive') {
        this.ctx.logger.warn('instance id held by another process: waiting for it to expire', {
          path,
          holder: judged.holder,
        });
        await this.awaitChange(path, judged.stat, deadline);
        continue;
      }
      const epoch = registry.sessionEpoch;
      if (await this.claim(path, value, judged.verdict, stat)) {
        if (registry.sessionEpoch !== epoch) {
          // A new session began meanwhile: the node may be bound to the one before. Judged again on this
          // one, so that a registration resolves only with a node of the current session.
          continue;
        }
        this.boundEpoch = epoch;
        this.registeredOnce = true;
        if (judged.verdict === 'earlierLife' && judged.deadPid !== undefined) {
          // Its process is gone: so are its latch holds (a killed leader would block the job until its
          // session expired).
          await removeDeadProcessLatches(this.ctx, this.info.host, judged.deadPid);
        }
        return;
      }
      if (attempt >= REGISTER_ATTEMPTS) {
        throw new TransactionError(0, `create ${path}`, new NodeExistsError(path));
      }
    }
  }

  /**
   * Whether our node was made on session `epoch` (a registry sessionEpoch): claims are made only then.
   * Local state, no round trip: read it right before sending the claim, on the epoch the claim is sent on.
   */
  boundTo(epoch: number): boolean {
    return this.boundEpoch === epoch;
  }

  /**
   * Whether the registry holds this instance's node with this life's value, made on the current session
   * (a round trip, not the cache).
   */
  async isRegistered(): Promise<boolean> {
    const { registry, paths, instanceId } = this.ctx;
    const raw = await registry.getDirectly(paths.instance(instanceId));
    return raw === serializeInstanceInfo(this.info) && this.boundEpoch === registry.sessionEpoch;
  }

  /** Removes our node — only when it holds this life's value: never another process's registration. */
  async unregister(): Promise<void> {
    const { registry, paths, instanceId } = this.ctx;
    const path = paths.instance(instanceId);
    const stat = await registry.getStat(path);
    if (stat === null || stat.value !== serializeInstanceInfo(this.info)) {
      return;
    }
    await registry
      .executeInTransaction(tx => tx.delete(path, stat.version))
      .catch((err: unknown) => {
        if (!(err instanceof TransactionError)) {
          throw err; // a TransactionError: gone or replaced meanwhile, so not ours to remove
        }
      });
  }

  /** Member instance ids, sorted ascending (from the cache); non-members are reported once. */
  liveInstances(): string[] {
    const { paths } = this.ctx;
    const ids = this.ctx.cache().children(paths.instances);
    const members = ids.filter(id => this.isMember(id));
    // Forget nodes that are gone (bounded by the instance count); one that comes back is judged again.
    const present = new Set(ids.map(id => paths.instance(id)));
    for (const path of this.judged.keys()) {
      if (!present.has(path)) {
        this.judged.delete(path);
      }
    }
    return members;
  }

  isLive(instanceId: string): boolean {
    return this.isMember(instanceId);
  }

  /**
   * Why the writer `instanceId` of a record written at `recordStamp` is dead, or `undefined` while its
   * session may live: it lives while the instance is a member and its node was created before the record.
   * A node created after the record is a later life of the same id (a restarted pod): the writer is dead.
   * `node` is the writer's instance node as a fresh read found it (`null`: absent); by default the cache's.
   */
  recordWriterProblem(
    instanceId: string,
    recordStamp: bigint,
    node: Readonly<NodeStat> | null = this.ctx
      .cache()
      .getData(this.ctx.paths.instance(instanceId)) ?? null,
  ): string | undefined {
    if (node === null) {
      return 'its instance node is gone';
    }
    if (node.stamp >= recordStamp) {
      return `its instance node (stamp ${node.stamp}) is a later life than the record (stamp ${recordStamp})`;
    }
    return this.isMember(instanceId, node) ? undefined : 'its instance node is no member';
  }

  /** The server ip of a member: from its node's value, else from a default `{ip}@-@{pid}` id. */
  ipOf(instanceId: string): string {
    if (this.isMember(instanceId)) {
      const ip = this.judged.get(this.ctx.paths.instance(instanceId))?.ip;
      if (ip !== undefined && ip !== null) {
        return ip;
      }
    }
    const at = instanceId.indexOf(INSTANCE_SEPARATOR);
    return at > 0 ? instanceId.slice(0, at) : instanceId;
  }

  /** An ephemeral node whose value reads as an instance; anything else is reported once per version. */
  private isMember(
    instanceId: string,
    node: Readonly<NodeStat> | undefined = this.ctx
      .cache()
      .getData(this.ctx.paths.instance(instanceId)),
  ): boolean {
    const path = this.ctx.paths.instance(instanceId);
    if (node === undefined) {
      return false;
    }
    const known = this.judged.get(path);
    if (known !== undefined && known.stamp === node.stamp) {
      return known.ip !== null;
    }
    let problem: CorruptedDataError | undefined;
    let ip: string | null = null;
    if (!node.ephemeral) {
      problem = new CorruptedDataError(
        path,
        'a persistent node is no instance (instance nodes are ephemeral): it is given no items',
      );
    } else {
      try {
        ip = parseInstanceInfo(path, node.value).ip;
      } catch (err) {
        problem =
          err instanceof CorruptedDataError ? err : new CorruptedDataError(path, String(err));
      }
    }
    this.judged.set(path, { stamp: node.stamp, ip });
    if (problem !== undefined) {
      this.ctx.logger.warn('not an instance: given no items', { path, error: problem.message });
      this.report(problem);
    }
    return ip !== null;
  }

  /** Writes our node over whatever `verdict` allows replacing; false when someone else got there first. */
  private async claim(
    path: string,
    value: string,
    verdict: Exclude<HolderVerdict, 'live' | 'maybeLive'>,
    stat: NodeStat | null,
  ): Promise<boolean> {
    const { registry, paths, logger } = this.ctx;
    if (verdict === 'ours' && this.boundEpoch === registry.sessionEpoch) {
      return true; // this life's node, of this session: kept
    }
    // This life's node made on an earlier session of ours is replaced too: kept, it would vanish with that
    // session while this one lives on — and every record claimed meanwhile (younger than the node, checked
    // against it) would turn into a dead writer's record, reaped and failed over while its run goes on.
    if (stat !== null) {
      logger.info(
        verdict === 'ours'
          ? 'replacing our instance node of an earlier session'
          : 'replacing the instance node of a dead earlier life',
        { path, verdict },
      );
      // Version-checked: a node written meanwhile (a live process) is judged again, not deleted.
      try {
        await registry.executeInTransaction(tx => tx.delete(path, stat.version));
      } catch (err) {
        if (err instanceof TransactionError) {
          return false;
        }
        throw err;
      }
    }
    let parentMissing = true;
    try {
      parentMissing = !this.ctx.cache().has(paths.instances);
    } catch {
      // No cache yet: guess "missing"; createIfAbsent corrects a wrong guess.
    }
    return createIfAbsent(registry, paths.instances, path, value, parentMissing, 'EPHEMERAL');
  }

  /** Resolves when the node at `path` changes from `seen` (a watch, no polling) or at `deadline`. */
  private async awaitChange(path: string, seen: NodeStat, deadline: number): Promise<void> {
    const { registry } = this.ctx;
    const changed = new Deferred<void>();
    const unsubscribe = await registry.watch(path, event => {
      if (event.path === path) {
        changed.resolve();
      }
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      const now = await registry.getStat(path);
      if (now === null || now.value !== seen.value || now.version !== seen.version) {
        return;
      }
      timer = setTimeout(() => changed.resolve(), Math.max(0, deadline - Date.now()));
      await changed.promise;
    } finally {
      clearTimeout(timer);
      unsubscribe();
    }
  }
}
