import type { CoordinationError } from '../../lib/errors';
import type { FeedSink, NodeData } from '../../lib/registry/driver';
import { EventQueue } from './events';

/**
 * A FeedSink for driver tests: mirrors the subtree it is fed (`state`), records every call in order
 * (`log`, and `calls` to await them), and lets a test hook in at upserts and resets.
 */
export class RecordingSink implements FeedSink {
  readonly state = new Map<string, NodeData>();
  /** Every call, as `reset`, `upsert <path>=<value>`, `remove <path>`. */
  readonly log: string[] = [];
  readonly calls = new EventQueue<string>();
  readonly upserts: string[] = [];
  readonly removes: string[] = [];
  readonly errors: CoordinationError[] = [];
  resets = 0;
  onUpsert: ((path: string) => void) | undefined;
  onReset: (() => void) | undefined;

  reset(snapshot: ReadonlyMap<string, NodeData>): void {
    this.state.clear();
    for (const [p, d] of snapshot) {
      this.state.set(p, d);
    }
    this.resets++;
    this.onReset?.();
    this.record('reset');
  }

  upsert(path: string, data: NodeData): void {
    this.state.set(path, data);
    this.upserts.push(path);
    this.onUpsert?.(path);
    this.record(`upsert ${path}=${data.value}`);
  }

  remove(path: string): void {
    for (const p of [...this.state.keys()]) {
      if (p === path || p.startsWith(`${path}/`)) {
        this.state.delete(p);
      }
    }
    this.removes.push(path);
    this.record(`remove ${path}`);
  }

  error(err: CoordinationError): void {
    this.errors.push(err);
  }

  /** Resolves once `predicate` holds, re-checked after every sink call. */
  async until(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (!predicate()) {
      await this.calls.takeUntil(() => predicate(), timeoutMs, what);
    }
  }

  /** The mirrored values by path, sorted by path. */
  values(): Record<string, string> {
    return Object.fromEntries(
      [...this.state].sort(([a], [b]) => (a < b ? -1 : 1)).map(([p, d]) => [p, d.value]),
    );
  }

  private record(call: string): void {
    this.log.push(call);
    this.calls.push(call);
  }
}
