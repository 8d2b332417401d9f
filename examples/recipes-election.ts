/**
 * Leader election among three candidates, on the embedded registry:
 *   npx tsx examples/recipes-election.ts [registry-url]
 * The first candidate leads; when it resigns the next one in line takes over.
 */
import { createLeaderElection, createRegistryCenter } from '../lib';

async function main(): Promise<void> {
  const url = process.argv[2] ?? 'memory://recipes-election';
  const registries = ['a', 'b', 'c'].map(() => createRegistryCenter(url));
  await Promise.all(registries.map(r => r.init()));
  const elections = registries.map((registry, i) =>
    createLeaderElection(registry, '/elections/reporting', {
      candidateId: `node-${i}`,
      value: `http://10.0.0.${i + 1}:8080`,
    }),
  );
  try {
    elections[0]?.on('leaderChanged', leader =>
      console.log(
        `leader is now ${leader === null ? 'nobody' : `${leader.candidateId} at ${leader.value}`}`,
      ),
    );
    for (const election of elections) {
      election.on('elected', () => console.log(`${election.candidateId} elected`));
      election.on('revoked', reason =>
        console.log(`${election.candidateId} revoked: ${reason.message}`),
      );
    }
    const first = await elections[0]!.campaign();
    const next = elections[1]!.campaign();
    const last = elections[2]!.campaign();
    await registries[0]?.executeInTransaction(tx =>
      first.fence(tx).create('/reporting-owner', 'node-0'),
    );
    await elections[0]!.resign();
    await next;
    console.log(
      `node-0 fenced write after resigning: ${await registries[0]
        ?.executeInTransaction(tx => first.fence(tx).setData('/reporting-owner', 'node-0 again'))
        .then(
          () => 'accepted',
          (err: Error) => `refused (${err.name})`,
        )}`,
    );
    await elections[1]!.resign();
    await last;
    console.log(`current leader: ${(await elections[0]!.leader())?.candidateId}`);
  } finally {
    await Promise.all(elections.map(e => e.close()));
    await Promise.all(registries.map(r => r.close()));
  }
}

void main();
