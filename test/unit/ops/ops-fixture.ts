import { createRegistryCenter } from '../../../lib/registry/create-registry-center';
import type { CoordinatorRegistryCenter } from '../../../lib/registry/registry-center';
import { uniqueNamespace } from '../../harness/namespace';

/**
 * A memory namespace with the job node layout (`config`, `servers/`, `instances/`, `sharding/`, `leader/`)
 * written by hand, for the operations API tests.
 * `instance(id, ip)` registers a live instance on a client of its own (its session owns the ephemeral
 * node), so closing that client is how an instance dies. `close()` closes every client.
 */
export class OpsFixture {
  readonly url = `memory://${uniqueNamespace('ops')}`;
  readonly registry: CoordinatorRegistryCenter = createRegistryCenter(this.url);
  private readonly clients: CoordinatorRegistryCenter[] = [this.registry];

  async init(): Promise<this> {
    await this.registry.init();
    return this;
  }

  /** Another client of the same namespace (closed by `close()`). */
  async client(): Promise<CoordinatorRegistryCenter> {
    const client = createRegistryCenter(this.url);
    this.clients.push(client);
    await client.init();
    return client;
  }

  /** Writes `/{name}/config` with every field explicit (as a worker stores it). */
  async job(name: string, overrides: Record<string, unknown> = {}): Promise<void> {
    await this.registry.persist(`/${name}/config`, JSON.stringify(jobConfig(name, overrides)));
  }

  /** A live instance: `instances/{id}` on a session of its own. Close the returned client to kill it. */
  async instance(job: string, id: string, ip = '10.0.0.1'): Promise<CoordinatorRegistryCenter> {
    const client = await this.client();
    await client.persistEphemeral(`/${job}/instances/${id}`, instanceInfo(ip));
    return client;
  }

  /** `sharding/{item}/instance` = owner. */
  async assign(job: string, assignment: Record<string, readonly number[]>): Promise<void> {
    for (const [owner, items] of Object.entries(assignment)) {
      for (const item of items) {
        await this.registry.persist(`/${job}/sharding/${item}/instance`, owner);
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map(c => c.close()));
  }
}

/** A complete stored configuration (schema version 1). */
export function jobConfig(
  name: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    schemaVersion: 1,
    name,
    type: 'simple',
    cron: '*/5 * * * * *',
    timeZone: 'UTC',
    shardingTotalCount: 3,
    shardingItemParameters: {},
    jobParameter: '',
    failover: false,
    misfire: true,
    monitorExecution: true,
    strategy: 'AVG_ALLOCATION',
    disabled: false,
    description: '',
    maxTimeDiffSeconds: -1,
    reconcileIntervalMinutes: 10,
    timeoutMs: 0,
    retry: { attempts: 1, backoffMs: 1000, maxBackoffMs: 30000 },
    streaming: false,
    command: null,
    ...overrides,
  };
}

/** The JSON of an `instances/{id}` node. */
export function instanceInfo(ip: string): string {
  return JSON.stringify({
    host: 'test-host',
    ip,
    pid: 4242,
    labels: {},
    startedAt: 1_700_000_000_000,
    version: '0.1.0',
  });
}
