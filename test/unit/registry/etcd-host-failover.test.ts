import { expect } from 'chai';
import { isBrokenCircuitError, noop } from 'cockatiel';
import { castGrpcError } from 'etcd3';
import { hostFailoverPolicies, isUnsentError } from '../../../lib/registry/etcd/etcd-host-failover';

/** A gRPC error as etcd3 hands it to the fault-handling policies (cast from grpc-js's plain Error). */
function grpcError(code: number, message: string): Error {
  return castGrpcError(Object.assign(new Error(message), { code }));
}

const NO_CONNECTION = () =>
  grpcError(
    14,
    '14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 127.0.0.1:1',
  );
const NO_NAME = () =>
  grpcError(14, '14 UNAVAILABLE: Name resolution failed for target dns:no-such-host.invalid:2379');
const DROPPED = () => grpcError(14, '14 UNAVAILABLE: Connection dropped');
const DEADLINE = () => grpcError(4, '4 DEADLINE_EXCEEDED: Deadline exceeded');

describe('etcd host failover', () => {
  it('counts as unsent only the errors raised before a request left the client', () => {
    expect(isUnsentError(NO_CONNECTION())).to.equal(true);
    expect(isUnsentError(NO_NAME())).to.equal(true);
    // In flight when the connection broke, or timed out: the server may have applied it.
    expect(isUnsentError(DROPPED())).to.equal(false);
    expect(isUnsentError(DEADLINE())).to.equal(false);
    expect(isUnsentError(new Error('No connection established'))).to.equal(false);
    expect(isUnsentError('14 UNAVAILABLE: No connection established')).to.equal(false);
  });

  it('installs no policy for a single endpoint', () => {
    const policies = hostFailoverPolicies(1);
    expect(policies.global).to.equal(noop);
    expect(policies.host('a')).to.equal(noop);
  });

  it('skips a host after one unsent call, and only after an unsent call', async () => {
    const host = hostFailoverPolicies(3).host('127.0.0.1:1');
    let calls = 0;
    const fail = (make: () => Error) => () => {
      calls++;
      return Promise.reject(make());
    };
    await expect(host.execute(fail(DROPPED))).to.be.rejectedWith('Connection dropped');
    await expect(host.execute(fail(DEADLINE))).to.be.rejectedWith('Deadline');
    expect(await host.execute(() => Promise.resolve('sent'))).to.equal('sent');
    await expect(host.execute(fail(NO_CONNECTION))).to.be.rejectedWith('No connection');
    expect(calls).to.equal(3);
    const refused = await host.execute(fail(NO_CONNECTION)).catch((err: unknown) => err);
    expect(isBrokenCircuitError(refused), 'refused without a call').to.equal(true);
    expect(calls).to.equal(3);
  });

  it('sends an unsent call again, once per other host, and never an ambiguous one', async () => {
    const { global } = hostFailoverPolicies(3);
    let tries = 0;
    const result = await global.execute(() => {
      tries++;
      return tries < 3 ? Promise.reject(NO_CONNECTION()) : Promise.resolve('third host');
    });
    expect(result).to.equal('third host');

    tries = 0;
    await expect(
      global.execute(() => {
        tries++;
        return Promise.reject(NO_NAME());
      }),
    ).to.be.rejectedWith('Name resolution failed');
    expect(tries, 'the first try and one per other host').to.equal(3);

    for (const ambiguous of [DROPPED, DEADLINE]) {
      tries = 0;
      await expect(
        global.execute(() => {
          tries++;
          return Promise.reject(ambiguous());
        }),
      ).to.be.rejected;
      expect(tries, ambiguous().message).to.equal(1);
    }
  });
});
