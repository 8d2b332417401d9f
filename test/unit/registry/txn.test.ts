import { expect } from 'chai';
import { InvalidArgumentError, InvalidPathError } from '../../../lib/errors';
import { MAX_TXN_OPS, TxnCollector } from '../../../lib/registry/txn';

describe('transaction builder', () => {
  it('collects ops in order with their versions', () => {
    const tx = new TxnCollector()
      .check('/a', 0)
      .setData('/a', 'x', 0)
      .create('/b', 'y', 'EPHEMERAL')
      .delete('/c');
    expect(tx.ops).to.deep.equal([
      { type: 'check', path: '/a', version: 0 },
      { type: 'setData', path: '/a', value: 'x', version: 0 },
      { type: 'create', path: '/b', value: 'y', mode: 'EPHEMERAL' },
      { type: 'delete', path: '/c', version: undefined },
    ]);
  });

  it('rejects what some backend could not apply atomically', () => {
    expect(() => new TxnCollector().setData('/a', 'x').check('/a')).to.throw(
      InvalidArgumentError,
      /check it only before/,
    );
    expect(() => new TxnCollector().create('/a', 'x').delete('/a')).to.throw(
      InvalidArgumentError,
      /write \/a once/,
    );
    expect(() => new TxnCollector().check('/a', -1)).to.throw(InvalidArgumentError, /non-negative/);
    expect(() =>
      new TxnCollector().create('/a', 'x', 'PERSISTENT_SEQUENTIAL' as 'PERSISTENT'),
    ).to.throw(InvalidArgumentError);
    expect(() => new TxnCollector().setData('/a', 5 as unknown as string)).to.throw(
      InvalidArgumentError,
      /string/,
    );
    expect(() => new TxnCollector().delete('/')).to.throw(InvalidPathError);
    const big = new TxnCollector();
    for (let i = 0; i < MAX_TXN_OPS; i++) {
      big.check(`/n${i}`);
    }
    expect(() => big.check('/one-more')).to.throw(InvalidArgumentError, /at most 128/);
  });
});
