import type { ConnectionState } from './registry-center';

/**
 * Normalises the states a driver reports into the public sequence, the same on every backend:
 * CONNECTED once; SUSPENDED before LOST; no state twice in a row; `sessionEpoch` grows before
 * RECONNECTED is announced whenever the session id changed, so listeners see the new epoch.
 */
export class ConnectionTracker {
  private current: ConnectionState | 'LATENT' | 'CLOSED' = 'LATENT';
  private epoch = 0;
  private lastSessionId: string | null = null;
  /** Increments on every state change; a read started under an older generation may be stale. */
  private gen = 0;

  constructor(
    private readonly sessionId: () => string | null,
    private readonly announce: (state: ConnectionState) => void,
  ) {}

  get state(): ConnectionState | 'LATENT' | 'CLOSED' {
    return this.current;
  }

  get sessionEpoch(): number {
    return this.epoch;
  }

  get generation(): number {
    return this.gen;
  }

  /** True while requests can be expected to reach the server. */
  get isConnected(): boolean {
    return this.current === 'CONNECTED' || this.current === 'RECONNECTED';
  }

  close(): void {
    this.current = 'CLOSED';
    this.gen++;
  }

  report(state: ConnectionState): void {
    if (this.current === 'CLOSED') {
      return;
    }
    const sessionChanged = this.sessionId() !== this.lastSessionId;
    if (state === this.current && !(state === 'RECONNECTED' && sessionChanged)) {
      return;
    }
    if (state === 'CONNECTED' && this.current !== 'LATENT') {
      // A driver's "connected again" after the first connection is a reconnection.
      this.report('RECONNECTED');
      return;
    }
    if (state === 'LOST' && this.isConnected) {
      this.transition('SUSPENDED');
    }
    if (state === 'RECONNECTED' && this.current === 'LATENT') {
      state = 'CONNECTED';
    }
    if (state === 'CONNECTED' || state === 'RECONNECTED') {
      const id = this.sessionId();
      if (id !== this.lastSessionId) {
        if (state === 'RECONNECTED') {
          // A new session means the old one (and its ephemerals) is gone: never skip LOST.
          if (this.isConnected) {
            this.transition('SUSPENDED');
          }
          if (this.current === 'SUSPENDED') {
            this.transition('LOST');
          }
        }
        this.epoch++;
        this.lastSessionId = id;
      } else if (state === 'RECONNECTED' && this.isConnected) {
        return;
      }
    }
    this.transition(state);
  }

  private transition(state: ConnectionState): void {
    this.current = state;
    this.gen++;
    this.announce(state);
  }
}
