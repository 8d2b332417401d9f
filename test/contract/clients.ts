import type { DrivenRegistryCenter } from '../../lib/registry/driven-registry-center';
import type { BackendFactory, CuttableClient } from './backend-factory';
import { EventQueue } from '../harness/events';
import { uniqueNamespace } from '../harness/namespace';

/**
 * Per-test client bookkeeping: every client made through it is closed in `closeAll()` (call it in
 * afterEach), and every test gets its own namespace (kazoo's chroot idea).
 */
export class Clients {
  readonly namespace = uniqueNamespace();
  private readonly open: { close(): Promise<void> }[] = [];

  constructor(private readonly factory: BackendFactory) {}

  async connect(options?: {
    connectTimeoutMs?: number;
    requestTimeoutMs?: number;
  }): Promise<DrivenRegistryCenter> {
    const registry = this.factory.create(this.namespace, options);
    this.open.push(registry);
    await registry.init();
    return registry;
  }

  async cuttable(): Promise<CuttableClient> {
    const client = await this.factory.createCuttable(this.namespace);
    this.open.push(client);
    return client;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.open.splice(0).map(c => c.close()));
  }
}

/** An EventQueue fed by a typed subscription: `queueOf<ConnectionState>(push => r.on('connectionStateChanged', push))`. */
export function queueOf<T>(subscribe: (push: (value: T) => void) => unknown): EventQueue<T> {
  const queue = new EventQueue<T>();
  subscribe(value => queue.push(value));
  return queue;
}
