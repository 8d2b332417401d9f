import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { expect } from 'chai';
import { LATCH_TRACE_CHANNEL, type LatchTrace } from '../../lib/registry/leader-latch';

interface Pending {
  predicate: (t: LatchTrace) => boolean;
  resolve: (t: LatchTrace) => void;
}

/**
 * The decisions of every latch on one directory (`read`, `wait` on a predecessor, `removed` seen and
 * whether it woke us, `head`), from the `shardline:latch` diagnostics channel. `close()` unsubscribes.
 */
export class LatchTraces {
  readonly all: LatchTrace[] = [];
  private pending: Pending[] = [];
  private readonly onMessage = (message: unknown): void => {
    const t = message as LatchTrace;
    if (t.dir !== this.dir) {
      return;
    }
    this.all.push(t);
    for (const p of this.pending.filter(p => p.predicate(t))) {
      this.pending.splice(this.pending.indexOf(p), 1);
      p.resolve(t);
    }
  };

  constructor(private readonly dir: string) {
    subscribe(LATCH_TRACE_CHANNEL, this.onMessage);
  }

  close(): void {
    unsubscribe(LATCH_TRACE_CHANNEL, this.onMessage);
  }

  /** The first trace (seen already or to come) that matches; rejects after `timeoutMs` naming `what`. */
  until(
    predicate: (t: LatchTrace) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<LatchTrace> {
    const seen = this.all.find(predicate);
    if (seen !== undefined) {
      return Promise.resolve(seen);
    }
    return new Promise<LatchTrace>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = this.pending.filter(p => p !== entry);
        reject(
          new Error(`timed out after ${timeoutMs} ms waiting for ${what}; traces: ${this.dump()}`),
        );
      }, timeoutMs);
      const entry: Pending = {
        predicate,
        resolve: t => {
          clearTimeout(timer);
          resolve(t);
        },
      };
      this.pending.push(entry);
    });
  }

  /** One entry's traces from index `from` of `all` on, in a compact form for deep equality. */
  steps(entry: string, from: number, names: Map<string, string>): string[] {
    const name = (path: string | undefined): string => names.get(path ?? '') ?? String(path);
    return this.all
      .slice(from)
      .filter(t => t.entry === entry)
      .map(t => {
        switch (t.kind) {
          case 'read':
            return 'read';
          case 'wait':
            return `wait ${name(t.predecessor)}`;
          case 'removed':
            return `removed ${name(t.removed)}${t.woken ? ' woke' : ''}`;
          case 'head':
            return 'head';
        }
      });
  }

  private dump(): string {
    return JSON.stringify(this.all.map(t => ({ ...t, dir: undefined })));
  }
}

/** One participant of a latch: started by the scenario, released or made to leave by it. */
export interface LatchParticipant {
  /** Settles when the participant is done (released, or gave up waiting). */
  readonly done: Promise<unknown>;
  /** Stop waiting (abort its signal). */
  leave(): void;
  /** Let the holder return. */
  release(): void;
}

/**
 * The wake rule of the one latch, proven by its traces: four participants queue as p0 (holder) ← p1 ← p2
 * ← p3. When p2 (a middle waiter) leaves, only p3 moves, re-linking to p1; when p0 releases, only p1
 * moves (to the head); nobody else reads again. A herd latch (every waiter re-reading on any removal)
 * fails the exact step lists at the end.
 */
export async function expectSuccessorOnlyWakes(
  dir: string,
  start: (i: number) => LatchParticipant,
  timeoutMs: number,
): Promise<void> {
  const traces = new LatchTraces(dir);
  try {
    const participants: LatchParticipant[] = [];
    const entries: string[] = [];
    const names = new Map<string, string>();
    for (let i = 0; i < 4; i++) {
      participants.push(start(i));
      const placed = await traces.until(
        t => (t.kind === 'head' || t.kind === 'wait') && !entries.includes(t.entry),
        timeoutMs,
        `p${i} queued`,
      );
      if (placed.kind !== 'head' && placed.kind !== 'wait') {
        throw new Error('unreachable');
      }
      entries.push(placed.entry);
      names.set(placed.node, `p${i}`);
      expect(placed.kind === 'wait' ? names.get(placed.predecessor) : 'head').to.equal(
        i === 0 ? 'head' : `p${i - 1}`,
      );
    }
    const [p0, p1, p2, p3] = participants as [
      LatchParticipant,
      LatchParticipant,
      LatchParticipant,
      LatchParticipant,
    ];
    const [e0, e1, , e3] = entries as [string, string, string, string];
    const node = (i: number): string => [...names].find(([, n]) => n === `p${i}`)?.[0] ?? 'unknown';
    const mark = traces.all.length;
    const saw = (entry: string, removed: number, who: string): Promise<LatchTrace> =>
      traces.until(
        t => t.entry === entry && t.kind === 'removed' && t.removed === node(removed),
        timeoutMs,
        `${who} seeing p${removed} removed`,
      );

    // A middle waiter leaves: its successor re-links to its predecessor; nobody else moves.
    p2.leave();
    await p2.done;
    await Promise.all([saw(e0, 2, 'p0'), saw(e1, 2, 'p1'), saw(e3, 2, 'p3')]);
    await traces.until(
      t => t.entry === e3 && t.kind === 'wait' && t.predecessor === node(1),
      timeoutMs,
      'p3 waiting on p1',
    );

    // The holder leaves: only its successor moves, to the head.
    p0.release();
    await p0.done;
    await Promise.all([
      saw(e3, 0, 'p3'),
      traces.until(t => t.entry === e1 && t.kind === 'head', timeoutMs, 'p1 at the head'),
    ]);
    p1.release();
    await p1.done;
    await traces.until(t => t.entry === e3 && t.kind === 'head', timeoutMs, 'p3 at the head');
    p3.release();
    await p3.done;

    expect(traces.steps(e0, mark, names)).to.deep.equal(['removed p2'], 'p0 (holder)');
    expect(traces.steps(e1, mark, names)).to.deep.equal(
      ['removed p2', 'removed p0 woke', 'read', 'head'],
      'p1',
    );
    expect(traces.steps(e3, mark, names)).to.deep.equal(
      ['removed p2 woke', 'read', 'wait p1', 'removed p0', 'removed p1 woke', 'read', 'head'],
      'p3',
    );
  } finally {
    traces.close();
  }
}
