import type { RequestObserver, Unsubscribe } from './registry-center';

/**
 * The observers of a registry centre's requests (metrics): each settled request is reported once with its
 * duration. Nothing is measured while there are none; an observer that throws never fails the request.
 */
export class RequestObservers {
  private readonly observers = new Set<RequestObserver>();

  add(observer: RequestObserver): Unsubscribe {
    this.observers.add(observer);
    return () => {
      this.observers.delete(observer);
    };
  }

  /** Reports `request`'s duration as it settles; returns it unchanged. */
  observe<T>(op: string, request: Promise<T>): Promise<T> {
    if (this.observers.size === 0) {
      return request;
    }
    const started = performance.now();
    const report = (failed: boolean): void => {
      const durationMs = performance.now() - started;
      for (const observer of this.observers) {
        try {
          observer(op, durationMs, failed);
        } catch {
          // An observer's bug must not fail the request it watches.
        }
      }
    };
    request.then(
      () => report(false),
      () => report(true),
    );
    return request;
  }
}
