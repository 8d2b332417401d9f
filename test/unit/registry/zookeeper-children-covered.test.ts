import { expect } from 'chai';
import type { ReadResult } from '../../../lib/registry/zookeeper/zookeeper-multi-read';
import { childrenCovered } from '../../../lib/registry/zookeeper/zookeeper-persistent-feed';

/** A getData result as multiRead decodes it. */
function data(czxid: bigint, numChildren = 0, pzxid = czxid): ReadResult {
  return {
    kind: 'data',
    data: { value: '', version: 0, stamp: czxid, ephemeral: false },
    czxid,
    numChildren,
    pzxid,
  };
}

const NO_NODE: ReadResult = { kind: 'error', code: -101 };

/**
 * When a notified batch itself reconciles every child of a new node, the persistent feed adds the node
 * without reading its subtree (one read per batch for a transaction that creates nodes with children).
 * It may skip that read only when the children it counts are exactly the node's children at its read.
 */
describe('ZooKeeper persistent feed: children covered by the batch', () => {
  it('a node created with its children in one transaction is covered by their reads after it', () => {
    // /s/1 and /s/1/instance, /s/2 and /s/2/instance: one multi at zxid 9.
    const paths = ['/s/1', '/s/1/instance', '/s/2', '/s/2/instance'];
    const results = [data(9n, 1, 9n), data(9n), data(9n, 1, 9n), data(9n)];
    expect(childrenCovered(paths, results, [false, false, false, false])).to.deep.equal([
      true,
      false,
      true,
      false,
    ]);
  });

  it('is not covered when a child is missing from the batch, deferred, gone, or earlier than its parent', () => {
    const parent = data(5n, 2, 7n);
    expect(
      childrenCovered(['/p', '/p/a'], [parent, data(6n)], [false, false]),
      'one of two children in the batch',
    ).to.deep.equal([false, false]);
    expect(
      childrenCovered(['/p', '/p/a', '/p/b'], [parent, data(6n), data(7n)], [false, false, true]),
      'a child deferred to the next batch',
    ).to.deep.equal([false, false, false]);
    expect(
      childrenCovered(['/p', '/p/a', '/p/b'], [parent, data(6n), NO_NODE], [false, false, false]),
      'a child gone at its read',
    ).to.deep.equal([false, false, false]);
    expect(
      childrenCovered(['/p/a', '/p', '/p/b'], [data(6n), parent, data(7n)], [false, false, false]),
      'a child reconciled before its parent',
    ).to.deep.equal([false, false, false]);
  });

  it('does not count a child created after the parent was read, even when the count matches', () => {
    // /p had one child at its read (pzxid 7); /p/x was created at 8 (a later chunk's read shows it) while
    // the child that counted is not in the batch: the counts match, the sets do not.
    const results = [data(5n, 1, 7n), data(8n)];
    expect(childrenCovered(['/p', '/p/x'], results, [false, false])).to.deep.equal([false, false]);
  });

  it('covers nested subtrees level by level', () => {
    const paths = ['/a', '/a/b', '/a/b/c', '/a/b/d'];
    const results = [data(3n, 1, 3n), data(3n, 2, 3n), data(3n), data(3n)];
    expect(childrenCovered(paths, results, [false, false, false, false])).to.deep.equal([
      true,
      true,
      false,
      false,
    ]);
  });
});
