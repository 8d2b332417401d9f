import { expect } from 'chai';
import { runDemo } from '../lib/cli/demo';
import { main } from '../lib/cli/main';
import { spawnNode } from './harness/process';
import { ms } from './harness/timing';

describe('examples and the demo', () => {
  it('the demo shows three instances, the latch taken in turn, and the rebalanced membership', async () => {
    const lines: string[] = [];
    await runDemo(line => lines.push(line));
    const text = lines.join('\n');
    expect(text).to.contain('Live instances: instance-a, instance-b, instance-c');
    for (const name of ['instance-a', 'instance-b', 'instance-c']) {
      expect(text).to.contain(`${name} leads`);
    }
    expect(text).to.contain('event: removed /demo/instances/instance-b');
    expect(lines[lines.length - 1]).to.equal('Live instances: instance-a, instance-c');
  });

  it('the CLI reports an unknown command with a non-zero exit code', async () => {
    const code = await main(['node', 'shardline', 'no-such-command']);
    expect(code).to.not.equal(0);
  });

  it('examples/registry-quickstart.ts runs to completion on the embedded registry', async function () {
    this.timeout(ms(30_000));
    const child = spawnNode('examples/registry-quickstart.ts', []);
    const code = await child.exited;
    expect(code, child.stderr()).to.equal(0);
    expect(child.lines.seen.join('\n')).to.contain('leader: a');
  });
});
