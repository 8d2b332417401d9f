import type { IResponseHeader, KVClient } from 'etcd3';

/**
 * Ends requests stranded by an etcd leader change early instead of at the request deadline.
 *
 * A write sent to a follower is forwarded to the leader. When the leader dies with the proposal, the
 * follower keeps the request open until etcd's own timeout (7 s by default), past our `requestTimeoutMs`:
 * measured on a 3-member cluster, every claim a worker had in flight when the leader was SIGKILLed went
 * unanswered for the whole 5 s, although a new leader served after 1–2 s, and every item of that worker
 * missed 6–7 s of fires.
 *
 * Every etcd response header carries the answering member's raft term. We note, for each KV request, the
 * highest term seen when it was sent; once any answer (a KV response or a lease keep-alive) shows a higher
 * term, a new leader exists, and a request sent under the old term that is still unanswered may have been
 * lost with the old leader. It is rejected at once with {@link EtcdLeaderChangedError}, which the error table
 * translates into an ambiguous `ConnectionLossError` — exactly what a request timeout would have said a few
 * seconds later, so callers need nothing new: a write that did apply is found by their usual read-back or
 * version check. The gRPC call itself is left to end at its deadline; its answer, if any, is ignored.
 */
export class EtcdLeaderChangedError extends Error {
  constructor(
    readonly sentTerm: bigint,
    readonly newTerm: bigint,
  ) {
    super(
      `the etcd leader changed (raft term ${sentTerm} -> ${newTerm}) while the request was unanswered; ` +
        'it may or may not have been applied',
    );
    this.name = 'EtcdLeaderChangedError';
  }
}

interface Pending {
  term: bigint;
  reject(err: Error): void;
}

export class TermWatch {
  private term = 0n;
  private readonly pending = new Set<Pending>();

  /** The highest raft term seen in any answer (0 before the first). */
  get currentTerm(): bigint {
    return this.term;
  }

  /** Note an answer's header; a higher term rejects the requests sent under an older one. */
  observe(header: Pick<IResponseHeader, 'raft_term'> | undefined): void {
    if (header === undefined) {
      return;
    }
    let seen: bigint;
    try {
      seen = BigInt(header.raft_term);
    } catch {
      return; // not a number: says nothing about the term
    }
    if (seen <= this.term) {
      return;
    }
    const previous = this.term;
    this.term = seen;
    if (previous === 0n) {
      return; // the first term we learn: nothing was sent under a known older one
    }
    for (const p of [...this.pending]) {
      if (p.term < seen) {
        this.pending.delete(p);
        p.reject(new EtcdLeaderChangedError(p.term, seen));
      }
    }
  }

  /** Run one request, observing its answer's header, and end it early if the term moves on. */
  track<T extends { header: IResponseHeader }>(call: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { term: this.term, reject };
      if (this.term > 0n) {
        this.pending.add(entry);
      }
      call().then(
        res => {
          this.pending.delete(entry);
          this.observe(res.header);
          resolve(res);
        },
        (err: unknown) => {
          this.pending.delete(entry);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }
}

/** `kv` whose unary calls go through `terms` (same object shape; the original client is left untouched). */
export function termTrackedKv(kv: KVClient, terms: TermWatch): KVClient {
  const tracked = Object.create(kv) as KVClient;
  tracked.range = (req, options) => terms.track(() => kv.range(req, options));
  tracked.put = (req, options) => terms.track(() => kv.put(req, options));
  tracked.deleteRange = (req, options) => terms.track(() => kv.deleteRange(req, options));
  tracked.txn = (req, options) => terms.track(() => kv.txn(req, options));
  tracked.compact = (req, options) => terms.track(() => kv.compact(req, options));
  return tracked;
}
