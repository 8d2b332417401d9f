/**
 * Service registration and discovery, on the embedded registry:
 *   npx tsx examples/recipes-discovery.ts [registry-url]
 * Two instances register (ephemeral nodes), a client follows them and picks round robin.
 */
import { createRegistryCenter, discoverServices, registerService } from '../lib';

async function main(): Promise<void> {
  const url = process.argv[2] ?? 'memory://recipes-discovery';
  const server = createRegistryCenter(url);
  const client = createRegistryCenter(url);
  await Promise.all([server.init(), client.init()]);
  try {
    const billing = await discoverServices(client, 'billing');
    billing.on('added', i => console.log(`added ${i.id} at ${i.endpoint}`));
    billing.on('updated', (now, before) =>
      console.log(
        `updated ${now.id}: ${JSON.stringify(before.metadata)} -> ${JSON.stringify(now.metadata)}`,
      ),
    );
    const removed = new Promise<void>(resolve =>
      billing.on('removed', i => {
        console.log(`removed ${i.id}`);
        resolve();
      }),
    );
    const both = new Promise<void>(resolve =>
      billing.on('added', () => billing.list().length === 2 && resolve()),
    );
    const a = await registerService(server, 'billing', { id: 'a', endpoint: 'http://10.0.0.1:80' });
    const b = await registerService(server, 'billing', {
      id: 'b',
      endpoint: 'http://10.0.0.2:80',
      metadata: { zone: 'x' },
    });
    await both;
    console.log(`picks: ${[1, 2, 3].map(() => billing.pick()?.id).join(', ')}`);
    const updated = new Promise<void>(resolve => billing.once('updated', () => resolve()));
    await b.update({ metadata: { zone: 'y' } });
    await updated;
    await a.close(); // deregistered at once
    await removed;
    console.log(
      `live: ${billing
        .list()
        .map(i => i.id)
        .join(', ')}`,
    );
    await Promise.all([b.close(), billing.close()]);
  } finally {
    await Promise.all([server.close(), client.close()]);
  }
}

void main();
