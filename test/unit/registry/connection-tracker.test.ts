import { expect } from 'chai';
import { ConnectionTracker } from '../../../lib/registry/connection-tracker';
import type { ConnectionState } from '../../../lib/registry/registry-center';

function tracker(): { t: ConnectionTracker; seen: string[]; session: { id: string } } {
  const seen: string[] = [];
  const session = { id: 's1' };
  const t = new ConnectionTracker(
    () => session.id,
    (s: ConnectionState) => seen.push(`${s}#${t.sessionEpoch}`),
  );
  return { t, seen, session };
}

describe('connection state normalisation', () => {
  it('emits CONNECTED once and never the same state twice in a row', () => {
    const { t, seen } = tracker();
    t.report('CONNECTED');
    t.report('CONNECTED');
    t.report('SUSPENDED');
    t.report('SUSPENDED');
    t.report('CONNECTED');
    expect(seen).to.deep.equal(['CONNECTED#1', 'SUSPENDED#1', 'RECONNECTED#1']);
  });

  it('always reports SUSPENDED before LOST and LOST before a new session, with the epoch grown first', () => {
    const { t, seen, session } = tracker();
    t.report('CONNECTED');
    t.report('LOST');
    session.id = 's2';
    t.report('RECONNECTED');
    session.id = 's3';
    t.report('RECONNECTED'); // a driver that skipped LOST still yields the full sequence
    expect(seen).to.deep.equal([
      'CONNECTED#1',
      'SUSPENDED#1',
      'LOST#1',
      'RECONNECTED#2',
      'SUSPENDED#2',
      'LOST#2',
      'RECONNECTED#3',
    ]);
  });

  it('ignores everything after close', () => {
    const { t, seen } = tracker();
    t.report('CONNECTED');
    t.close();
    t.report('SUSPENDED');
    expect(seen).to.deep.equal(['CONNECTED#1']);
    expect(t.state).to.equal('CLOSED');
  });
});
