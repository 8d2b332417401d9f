import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { ConfigurationError } from '../errors';
import type { ExecutionHistorySink, ExecutionRecord } from './execution-record';

export interface JsonLinesHistoryOptions {
  /**
   * Lines held while the stream is busy (it returned false from `write` and has not drained yet); records
   * beyond are dropped and counted (`dropped`). Default 10,000.
   */
  maxBuffered?: number;
}

const DEFAULT_MAX_BUFFERED = 10_000;

/**
 * Execution records as JSON lines (one `ExecutionRecord` object per line, times in epoch ms) appended to
 * a file or written to a stream — for log shippers (Vector, Fluent Bit, Loki's promtail) or `jq`.
 *
 * ```ts
 * const worker = await startWorker({ registry, jobs, history: createJsonLinesHistory('/var/log/shardline.jsonl') });
 * ```
 *
 * `record` only queues: the lines of one turn of the event loop go out in one `write` on the next, so
 * the execution path never waits on the disk. A slow or stuck stream fills the buffer, after which
 * records are dropped and counted rather than held without bound. A file given by path is opened for
 * appending and closed by `close()`; a stream passed in is left open (it is the caller's, e.g. stdout).
 * A stream error drops what was queued, is counted, and ends the sink's writing.
 */
export class JsonLinesHistory implements ExecutionHistorySink {
  readonly name = 'jsonl';
  private droppedCount = 0;
  private queue: string[] = [];
  private scheduled = false;
  private waitingForDrain = false;
  private failed: Error | undefined;
  private closing: Promise<void> | undefined;
  private readonly stream: Writable;
  private readonly ownsStream: boolean;
  private readonly maxBuffered: number;

  constructor(target: string | Writable, options: JsonLinesHistoryOptions = {}) {
    this.maxBuffered = options.maxBuffered ?? DEFAULT_MAX_BUFFERED;
    if (!Number.isInteger(this.maxBuffered) || this.maxBuffered < 1) {
      throw new ConfigurationError(
        `maxBuffered must be a positive integer, got ${String(options.maxBuffered)}`,
        'maxBuffered',
      );
    }
    this.ownsStream = typeof target === 'string';
    this.stream = typeof target === 'string' ? createWriteStream(target, { flags: 'a' }) : target;
    this.stream.on('error', this.onError);
  }

  get dropped(): number {
    return this.droppedCount;
  }

  /** The stream error that stopped this sink, if any. */
  get error(): Error | undefined {
    return this.failed;
  }

  record(entry: ExecutionRecord): void {
    if (this.failed !== undefined || this.closing !== undefined) {
      this.droppedCount++;
      return;
    }
    if (this.queue.length >= this.maxBuffered) {
      this.droppedCount++;
      return;
    }
    this.queue.push(JSON.stringify(entry));
    if (!this.scheduled && !this.waitingForDrain) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Writes what is queued, then ends a file it opened (a stream passed in stays open). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.waitingForDrain && this.failed === undefined) {
        await new Promise<void>(resolve => {
          const done = (): void => {
            this.stream.off('drain', done);
            this.stream.off('error', done);
            resolve();
          };
          this.stream.once('drain', done);
          this.stream.once('error', done);
        });
      }
      this.flush();
      if (this.ownsStream) {
        await new Promise<void>(resolve => this.stream.end(resolve));
      }
      this.stream.off('error', this.onError);
    })();
    return this.closing;
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    if (this.queue.length === 0 || this.failed !== undefined) {
      return;
    }
    const chunk = this.queue.join('\n') + '\n';
    this.queue = [];
    if (!this.stream.write(chunk)) {
      this.waitingForDrain = true;
      this.stream.once('drain', () => {
        this.waitingForDrain = false;
        if (this.queue.length > 0 && !this.scheduled) {
          this.scheduled = true;
          setImmediate(this.flush);
        }
      });
    }
  };

  private readonly onError = (err: Error): void => {
    this.failed ??= err;
    this.droppedCount += this.queue.length;
    this.queue = [];
  };
}

/** JSON lines to a file (appended) or a stream (see {@link JsonLinesHistory}). */
export function createJsonLinesHistory(
  target: string | Writable,
  options: JsonLinesHistoryOptions = {},
): JsonLinesHistory {
  return new JsonLinesHistory(target, options);
}
