import { abortReason } from '../internal/async';
import type { ConnectionState, CoordinatorRegistryCenter } from '../registry/registry-center';

/**
 * Small pieces shared by the recipes (internal, not exported from the package): connection-state
 * tests, waiting for a usable connection on events, and error reporting without swallowing.
 */

/** True when requests can be expected to succeed (CONNECTED, or RECONNECTED after a gap). */
export function isUsable(state: ConnectionState | 'LATENT' | 'CLOSED'): boolean {
  return state === 'CONNECTED' || state === 'RECONNECTED';
}

/**
 * Resolve once `registry` is CONNECTED/RECONNECTED (at once when it already is); reject with the
 * signal's reason when `signal` aborts first. Waits on `connectionStateChanged`, never polls.
 */
export function whenUsable(
  registry: CoordinatorRegistryCenter,
  signal: AbortSignal,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) {
      reject(abortReason(signal));
      return;
    }
    if (isUsable(registry.connectionState)) {
      resolve();
      return;
    }
    const cleanup = (): void => {
      registry.off('connectionStateChanged', onState);
      signal.removeEventListener('abort', onAbort);
    };
    const onState = (state: ConnectionState): void => {
      if (isUsable(state)) {
        cleanup();
        resolve();
      }
    };
    const onAbort = (): void => {
      cleanup();
      reject(abortReason(signal));
    };
    registry.on('connectionStateChanged', onState);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Something that can emit `'error'` (a recipe's TypedEmitter). */
export interface ErrorSink {
  listenerCount(event: 'error'): number;
}

/**
 * Report a background failure that has no caller: emit `'error'` when somebody listens, otherwise
 * raise a process warning (printed on stderr) rather than crash the process with an unhandled
 * `'error'` event. Never silent.
 */
export function reportError(sink: ErrorSink, emit: (err: Error) => void, err: unknown): void {
  const error = err instanceof Error ? err : new Error(String(err));
  if (sink.listenerCount('error') > 0) {
    emit(error);
  } else {
    process.emitWarning(error);
  }
}

/** An AbortSignal that is already aborted (the signal of a term or hold that does not exist). */
export function abortedSignal(reason: Error): AbortSignal {
  const controller = new AbortController();
  controller.abort(reason);
  return controller.signal;
}
