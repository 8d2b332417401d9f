/**
 * The registry contract in a few lines, on the embedded registry:
 *   npx tsx examples/registry-quickstart.ts [registry-url]
 * Pass a URL such as zookeeper://127.0.0.1:2181/demo or etcd://127.0.0.1:2379/demo to use a real server.
 */
import { createRegistryCenter } from '../lib';

async function main(): Promise<void> {
  const url = process.argv[2] ?? 'memory://quickstart';
  const a = createRegistryCenter(url);
  const b = createRegistryCenter(url);
  await Promise.all([a.init(), b.init()]);
  try {
    const unwatch = await b.watch('/quickstart', e => console.log(`b saw ${e.type} ${e.path} = ${String(e.value)}`));
    await a.persistEphemeral('/quickstart/instances/a', 'hello');
    const winner = await a.executeInLeader('/quickstart/latch', async (_signal, fence) => {
      await a.executeInTransaction(tx => fence.fence(tx).create('/quickstart/leader', 'a'));
      return 'a';
    });
    console.log(`leader: ${winner}; children: ${(await b.getChildrenKeys('/quickstart')).join(', ')}`);
    await a.remove('/quickstart');
    unwatch();
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

void main();
