import { NodeExistsError, TransactionError } from '../../errors';
import type { JobContext } from '../job-context';
import type { InstanceService } from './instance-service';

export const SERVER_ENABLED = 'ENABLED';
export const SERVER_DISABLED = 'DISABLED';

/**
 * `servers/{ip}`: operator intent per host. Start-up creates the node as ENABLED only when it is absent,
 * so an operator's DISABLED survives restarts (ElasticJob overwrote it). The leader garbage-collects
 * ENABLED entries of hosts with no live instance; DISABLED entries are kept: they are decisions.
 */
export class ServerService {
  constructor(
    private readonly ctx: JobContext,
    private readonly instances: InstanceService,
  ) {}

  async ensureRegistered(): Promise<void> {
    // Judged on the job's cache (started before this): the transaction below settles any race.
    const path = this.ctx.paths.server(this.ctx.ip);
    const cache = this.ctx.cache();
    if (cache.has(path)) {
      return;
    }
    if (!cache.has(this.ctx.paths.servers)) {
      await this.ctx.registry.persist(this.ctx.paths.servers, '');
    }
    try {
      await this.ctx.registry.executeInTransaction(tx =>
        tx.check(this.ctx.paths.servers).create(path, SERVER_ENABLED),
      );
    } catch (err) {
      // Created meanwhile by another instance on this host (or an operator): theirs stands.
      if (!(err instanceof TransactionError || err instanceof NodeExistsError)) {
        throw err;
      }
      if (!(await this.ctx.registry.isExisted(path))) {
        throw err;
      }
    }
  }

  isEnabled(ip: string): boolean {
    return this.ctx.cache().get(this.ctx.paths.server(ip)) !== SERVER_DISABLED;
  }

  /** Live instances whose server is enabled, sorted ascending: the input of every strategy. */
  eligibleInstances(): string[] {
    return this.instances.liveInstances().filter(id => this.isEnabled(this.instances.ipOf(id)));
  }

  /** ENABLED server entries with no live instance (leader only; removed by the caller). */
  orphanedServers(): string[] {
    const cache = this.ctx.cache();
    const liveIps = new Set(this.instances.liveInstances().map(id => this.instances.ipOf(id)));
    return cache
      .children(this.ctx.paths.servers)
      .filter(ip => !liveIps.has(ip) && cache.get(this.ctx.paths.server(ip)) !== SERVER_DISABLED);
  }
}
