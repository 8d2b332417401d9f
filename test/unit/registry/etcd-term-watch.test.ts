import { expect } from 'chai';
import type { IResponseHeader } from 'etcd3';
import { ConnectionLossError } from '../../../lib/errors';
import { translateEtcdError } from '../../../lib/registry/etcd/etcd-errors';
import { EtcdLeaderChangedError, TermWatch } from '../../../lib/registry/etcd/etcd-term-watch';

function header(term: number): IResponseHeader {
  return { cluster_id: '1', member_id: '2', revision: '10', raft_term: String(term) };
}

/** A request whose answer the test gives (or never gives: held by a follower whose leader died). */
function held(): { promise: Promise<{ header: IResponseHeader }>; answer(term: number): void } {
  let answer: (term: number) => void = () => undefined;
  const promise = new Promise<{ header: IResponseHeader }>(resolve => {
    answer = term => resolve({ header: header(term) });
  });
  return { promise, answer };
}

describe('etcd term watch', () => {
  it('ends a request sent under an older term as soon as an answer shows a newer one', async () => {
    const terms = new TermWatch();
    terms.observe(header(5));
    const stranded = held();
    const tracked = terms.track(() => stranded.promise);
    terms.observe(header(5)); // same leader: nothing happens
    terms.observe(header(6)); // e.g. a keep-alive answered by the new leader's term
    const err = await tracked.catch((e: unknown) => e);
    expect(err).to.be.instanceOf(EtcdLeaderChangedError);
    expect((err as EtcdLeaderChangedError).sentTerm).to.equal(5n);
    expect((err as EtcdLeaderChangedError).newTerm).to.equal(6n);
    stranded.answer(5); // a late answer is ignored
  });

  it('leaves alone requests sent under the new term and requests that were answered', async () => {
    const terms = new TermWatch();
    terms.observe(header(5));
    const answered = held();
    const first = terms.track(() => answered.promise);
    answered.answer(5);
    expect((await first).header.raft_term).to.equal('5');
    terms.observe(header(6));
    const later = held();
    const second = terms.track(() => later.promise);
    terms.observe(header(6));
    later.answer(6);
    expect((await second).header.raft_term).to.equal('6');
    expect(terms.currentTerm).to.equal(6n);
  });

  it('an answer of its own with a newer term ends the older requests, and a lower term changes nothing', async () => {
    const terms = new TermWatch();
    terms.observe(header(3));
    const old = held();
    const oldCall = terms.track(() => old.promise);
    const fresh = held();
    const freshCall = terms.track(() => fresh.promise);
    terms.observe(header(2)); // a lagging member: not a leader change
    fresh.answer(4);
    expect((await freshCall).header.raft_term).to.equal('4');
    expect(await oldCall.catch((e: unknown) => e)).to.be.instanceOf(EtcdLeaderChangedError);
  });

  it('tracks nothing before the first term is known, and passes failures through', async () => {
    const terms = new TermWatch();
    const early = held();
    const earlyCall = terms.track(() => early.promise);
    terms.observe(header(7)); // the first term learnt: not a change
    early.answer(7);
    expect((await earlyCall).header.raft_term).to.equal('7');
    const boom = new Error('14 UNAVAILABLE: Connection dropped');
    expect(await terms.track(() => Promise.reject(boom)).catch((e: unknown) => e)).to.equal(boom);
  });

  it('is translated into an ambiguous, retryable ConnectionLossError', () => {
    const err = translateEtcdError(new EtcdLeaderChangedError(5n, 6n), {
      operation: 'txn',
      path: '/job/sharding/1/running',
      timeoutMs: 5000,
      description: 'etcd://a,b,c/ns',
    });
    expect(err).to.be.instanceOf(ConnectionLossError);
    expect(err.retryable).to.equal(true);
    expect(err.message)
      .to.include('raft term 5 -> 6')
      .and.include('may or may not have been applied');
  });
});
