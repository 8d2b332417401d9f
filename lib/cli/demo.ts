import { randomUUID } from 'node:crypto';
import { createRegistryCenter } from '../registry/create-registry-center';
import type { CoordinatorRegistryCenter } from '../registry/registry-center';

/** Where the demo writes its lines; the CLI passes stdout. */
export type Print = (line: string) => void;

/**
 * The quickstart on the embedded registry: three "instances" in one process register ephemeral nodes,
 * watch each other through a tree cache, take turns in a leader latch; then one is stopped abruptly (its
 * session ends) and the others see it leave. Exits cleanly; nothing outlives it.
 */
export async function runDemo(print: Print): Promise<void> {
  const namespace = `shardline-demo-${randomUUID().slice(0, 8)}`;
  const names = ['instance-a', 'instance-b', 'instance-c'];
  const instances = names.map(name => ({
    name,
    registry: createRegistryCenter(`memory://${namespace}`),
  }));
  const registries: CoordinatorRegistryCenter[] = instances.map(i => i.registry);
  try {
    await Promise.all(registries.map(r => r.init()));
    const observer = createRegistryCenter(`memory://${namespace}`);
    registries.push(observer);
    await observer.init();
    await observer.addCacheData('/demo/instances');
    const cache = observer.getRawCache('/demo/instances');
    if (cache === undefined) {
      throw new Error('the demo cache did not start');
    }
    cache.on('event', e => {
      if (e.path !== '/demo/instances') {
        print(`  event: ${e.type.padEnd(7)} ${e.path}`);
      }
    });

    print(`Embedded registry memory://${namespace}: three instances join`);
    await Promise.all(
      instances.map(({ name, registry }) =>
        registry.persistEphemeral(`/demo/instances/${name}`, JSON.stringify({ pid: process.pid })),
      ),
    );
    await cache.waitFor(c => c.children('/demo/instances').length === 3, { timeoutMs: 5000 });
    print(`Live instances: ${cache.children('/demo/instances').join(', ')}`);

    print('Each instance takes the leader latch in turn (never two at once):');
    await Promise.all(
      instances.map(({ name, registry }) =>
        registry.executeInLeader('/demo/leader/latch', async (_signal, fence) => {
          await registry.executeInTransaction(tx =>
            fence.fence(tx).create(`/demo/leader/terms-${name}`, name),
          );
          print(`  ${name} leads`);
        }),
      ),
    );

    print('instance-b stops abruptly (its session ends):');
    await instances[1]?.registry.close();
    await cache.waitFor(c => c.children('/demo/instances').length === 2, { timeoutMs: 5000 });
    print(`Live instances: ${cache.children('/demo/instances').join(', ')}`);
  } finally {
    await Promise.all(registries.map(r => r.close()));
  }
}
