import type { JobContext } from '../job-context';
import { createIfAbsent } from './create-if-absent';
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
    // Created meanwhile by another instance on this host (or an operator)? Theirs stands.
    await createIfAbsent(
      this.ctx.registry,
      this.ctx.paths.servers,
      path,
      SERVER_ENABLED,
      !cache.has(this.ctx.paths.servers),
    );
  }

  isEnabled(ip: string): boolean {
    return this.ctx.cache().get(this.ctx.paths.server(ip)) !== SERVER_DISABLED;
  }

  /**
   * Live member instances whose server is enabled, sorted ascending: the input of every strategy. A node
   * under `instances/` that is persistent or unreadable is no member: never given items (it is reported by
   * InstanceService, once per node).
   */
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
