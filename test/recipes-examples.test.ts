import { expect } from 'chai';
import { spawnNode } from './harness/process';
import { ms } from './harness/timing';

/**
 * Smoke-runs examples/recipes-*.ts on the embedded registry (test/examples.test.ts lists its examples by
 * name; these are the recipes' own, kept here so that the two files do not collide).
 */
const EXPECTED: Record<string, string[]> = {
  'recipes-lock.ts': ['worker-2 incremented the counter to 3', '(held by worker-0)', 'counter: 3'],
  'recipes-election.ts': ['node-0 elected', 'refused (TransactionError)', 'current leader: node-2'],
  'recipes-discovery.ts': ['picks: a, b, a', 'updated b: {"zone":"x"} -> {"zone":"y"}', 'live: b'],
  'recipes-config.ts': [
    '10/s -> 50/s',
    'rejected: unreadable data at /config/rate-limits',
    '50/s -> 20/s',
  ],
};

describe('recipes examples', () => {
  for (const [file, expected] of Object.entries(EXPECTED)) {
    it(`examples/${file} runs to completion on the embedded registry`, async function () {
      this.timeout(ms(30_000));
      const child = spawnNode(`examples/${file}`, []);
      const code = await child.exited;
      expect(code, child.stderr()).to.equal(0);
      const text = child.lines.seen.join('\n');
      for (const line of expected) {
        expect(text).to.contain(line);
      }
      expect(child.stderr()).to.equal('');
    });
  }
});
