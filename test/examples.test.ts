import { expect } from 'chai';
import { runDemo } from '../lib/cli/demo';
import { main } from '../lib/cli/main';
import { spawnNode } from './harness/process';
import { ms } from './harness/timing';

describe('examples and the demo', () => {
  it('the demo shows the assignment, runs every item, and rebalances after a crash', async function () {
    this.timeout(ms(30_000));
    const lines: string[] = [];
    await runDemo(line => lines.push(line));
    const text = lines.join('\n');
    const tables = text.split('instance    items').slice(1);
    expect(tables).to.have.length(2);
    expect(tables[0]).to.match(/worker-a {4}0, 1\n {2}worker-b {4}2, 3\n {2}worker-c {4}4, 5/);
    expect(tables[1]).to.match(/worker-a {4}0, 1, 2\n {2}worker-c {4}3, 4, 5/);
    for (let item = 0; item < 6; item++) {
      expect(text).to.match(new RegExp(`ran item ${item} \\(`));
    }
    const afterCrash = text.slice(text.indexOf('stops abruptly'));
    expect(afterCrash).to.not.contain('worker-b ran');
    expect(lines[lines.length - 1]).to.equal('Done.');
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
