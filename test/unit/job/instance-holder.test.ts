import { expect } from 'chai';
import { serializeInstanceInfo, type InstanceInfo } from '../../../lib/job/job-instance';
import {
  beginLife,
  endLife,
  isPidAlive,
  judgeHolder,
  type HolderVerdict,
} from '../../../lib/job/services/instance-holder';
import type { NodeStat } from '../../../lib/registry/registry-center';

const self: InstanceInfo = {
  host: 'host-a',
  ip: '10.0.0.1',
  pid: 100,
  labels: {},
  startedAt: 1_000,
  version: '0.1.0',
};

function node(info: Partial<InstanceInfo> | string, ephemeral = true): NodeStat {
  const value = typeof info === 'string' ? info : serializeInstanceInfo({ ...self, ...info });
  return { value, version: 0, stamp: 1n, ephemeral };
}

const alive = new Set([100, 200]);
const verdict = (stat: NodeStat | null): HolderVerdict =>
  judgeHolder(stat, self, pid => alive.has(pid)).verdict;

/** The rule that tells a live holder of an instance id from a dead earlier life (one live process per id). */
describe('judgeHolder: who holds an instance id', () => {
  it('free, ours, and nodes that are no instance', () => {
    expect(verdict(null)).to.equal('free');
    expect(verdict(node({}))).to.equal('ours');
    expect(verdict(node({}, false)), 'persistent').to.equal('notAnInstance');
    expect(verdict(node('not json')), 'unreadable').to.equal('notAnInstance');
    expect(verdict(node('{"host":"h"}')), 'wrong shape').to.equal('notAnInstance');
  });

  it('this host and this pid: an earlier life unless a worker of this process lives it', () => {
    // Our own pid: no dead process to name (nodes named by this pid may be this process's live ones).
    expect(judgeHolder(node({ startedAt: 5 }), self)).to.deep.equal({
      verdict: 'earlierLife',
      deadPid: undefined,
    });
    const living = beginLife();
    try {
      const judged = judgeHolder(node({ startedAt: living }), self);
      expect(judged.verdict).to.equal('live');
      expect(judged).to.deep.include({ holder: { host: 'host-a', pid: 100, since: living } });
    } finally {
      endLife(living);
    }
    expect(verdict(node({ startedAt: living })), 'once it stopped').to.equal('earlierLife');
  });

  it('this host and another pid: an earlier life when that pid is gone, else maybe alive', () => {
    expect(verdict(node({ pid: 300 }))).to.equal('earlierLife');
    // Its whole process is gone: named, so its latch nodes can go too.
    expect(judgeHolder(node({ pid: 300 }), self, pid => alive.has(pid))).to.deep.equal({
      verdict: 'earlierLife',
      deadPid: 300,
    });
    expect(verdict(node({ pid: 200 }))).to.equal('maybeLive');
  });

  it('another host: maybe alive whatever its pid (only its session expiry can tell)', () => {
    const judged = judgeHolder(node({ host: 'host-b', pid: 300, startedAt: 7 }), self, () => false);
    expect(judged.verdict).to.equal('maybeLive');
    expect(judged).to.deep.include({ holder: { host: 'host-b', pid: 300, since: 7 } });
  });

  it('lives of one process get distinct startedAt values, even within one millisecond', () => {
    const a = beginLife(5_000);
    const b = beginLife(5_000);
    endLife(a);
    endLife(b);
    expect(b).to.be.greaterThan(a);
  });

  it('isPidAlive: this process yes, a pid above the kernel maximum no', () => {
    expect(isPidAlive(process.pid)).to.equal(true);
    expect(isPidAlive(2 ** 22 + 12345)).to.equal(false);
  });
});
