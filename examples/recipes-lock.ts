/**
 * A distributed lock shared by three workers, on the embedded registry:
 *   npx tsx examples/recipes-lock.ts [registry-url]
 * Each worker takes the lock in turn (FIFO), writes through the lock's fence, and releases it in every path.
 */
import { createLock, createRegistryCenter, LockTimeoutError } from '../lib';

async function main(): Promise<void> {
  const url = process.argv[2] ?? 'memory://recipes-lock';
  const registries = ['a', 'b', 'c'].map(() => createRegistryCenter(url));
  await Promise.all(registries.map(r => r.init()));
  try {
    await registries[0]?.persist('/counter', '0');
    await Promise.all(
      registries.map(async (registry, i) => {
        const lock = createLock(registry, '/locks/counter', { holderId: `worker-${i}` });
        await lock.withLock(async signal => {
          const value = Number(await registry.getDirectly('/counter'));
          if (signal.aborted) {
            return; // the lock may be lost: do not write
          }
          // Fenced: refused if our lock node is gone (lost session, paused process).
          await registry.executeInTransaction(tx =>
            lock.fence(tx).setData('/counter', String(value + 1)),
          );
          console.log(`worker-${i} incremented the counter to ${value + 1}`);
        });
        await lock.close();
      }),
    );
    // A waiter that gives up names the holder.
    const holder = createLock(registries[0]!, '/locks/counter', { holderId: 'worker-0' });
    const impatient = createLock(registries[1]!, '/locks/counter', { timeoutMs: 200 });
    await holder.acquire();
    await impatient.acquire().catch((err: unknown) => {
      if (err instanceof LockTimeoutError) {
        console.log(`timed out: ${err.message}`);
      }
    });
    await Promise.all([holder.close(), impatient.close()]);
    console.log(`counter: ${await registries[2]?.getDirectly('/counter')}`);
  } finally {
    await Promise.all(registries.map(r => r.close()));
  }
}

void main();
