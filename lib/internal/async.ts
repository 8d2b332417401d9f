import { OperationTimeoutError } from '../errors';

/** A promise with its resolve/reject exposed. */
export class Deferred<T> {
  readonly promise: Promise<T>;
  resolve!: (value: T) => void;
  reject!: (reason: unknown) => void;

  constructor() {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

/**
 * Settle with `promise`, or reject with `onTimeout()` (default {@link OperationTimeoutError}) after
 * `timeoutMs`. The timer never keeps the process alive past the settlement.
 */
export function withTimeout<T>(
  promise: Promise<T>,
  timeoutMs: number,
  what: string,
  onTimeout: () => Error = () => new OperationTimeoutError(what, timeoutMs),
): Promise<T> {
  if (!Number.isFinite(timeoutMs)) {
    return promise;
  }
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), timeoutMs);
    promise.then(
      v => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** Resolve after `ms`, or reject with the signal's reason when it aborts first. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new Error('aborted');
}

/** Runs async tasks one at a time, in submission order. */
/**
 * Like `withTimeout`, but the deadline counts from the last `progress()` the operation reported (or its
 * start): an operation of many steps gets `timeoutMs` per step and still fails when one step hangs.
 */
export function withProgressTimeout<T>(
  run: (progress: () => void) => Promise<T>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const settle = (): boolean => {
      const first = !settled;
      settled = true;
      clearTimeout(timer);
      return first;
    };
    const arm = (): void => {
      if (settled) {
        return;
      }
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (settle()) {
          reject(new OperationTimeoutError(what, timeoutMs));
        }
      }, timeoutMs);
    };
    arm();
    let running: Promise<T>;
    try {
      running = run(arm);
    } catch (err) {
      running = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    running.then(
      value => {
        if (settle()) {
          resolve(value);
        }
      },
      (err: unknown) => {
        if (settle()) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      },
    );
  });
}

export class SerialQueue {
  private tail: Promise<void> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
