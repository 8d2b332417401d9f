import type { DrivenRegistryCenter } from '../../lib/registry/driven-registry-center';
import { TcpProxy } from '../harness/tcp-proxy';
import type { CuttableClient } from './backend-factory';

/**
 * A connected client whose only route to the server is a TcpProxy: `cut()` resets its connections and
 * refuses new ones, `heal()` lets traffic through again. Shared by the real-server backend factories.
 */
export async function proxiedClient(
  targetPort: number,
  create: (endpoint: string) => DrivenRegistryCenter,
): Promise<CuttableClient> {
  const proxy = await TcpProxy.start(targetPort);
  const registry = create(proxy.endpoint);
  try {
    await registry.init();
  } catch (err) {
    await registry.close();
    await proxy.close();
    throw err;
  }
  return {
    registry,
    cut: () => proxy.setMode('refuse'),
    heal: () => proxy.setMode('pass'),
    // The registry first, so that it can still end its session through the proxy.
    close: async () => {
      await registry.close();
      await proxy.close();
    },
  };
}
