import { existsSync } from 'node:fs';
import type { ServerProcess } from './process';

/**
 * The lifecycle shared by the harness's servers: one server process with its own temp dir, stopped by PID.
 * Subclasses say how to start it and when it is ready.
 */
export abstract class ManagedServer {
  protected constructor(
    protected readonly proc: ServerProcess,
    private readonly label: string,
  ) {}

  /** PID of the current (or last) server process. */
  get pid(): number {
    return this.proc.pid;
  }

  get logFile(): string {
    return this.proc.logFile;
  }

  /** SIGKILL, then delete the temp dir. Idempotent. */
  async stop(): Promise<void> {
    await this.proc.destroy();
  }

  /**
   * SIGKILL but keep the data dir, for `restart()`. ZooKeeper sessions and etcd leases keep counting down
   * while the server is down.
   */
  async kill(): Promise<void> {
    await this.proc.kill();
  }

  /** Starts again on the same ports with the same data dir (kills first if still running); awaits readiness. */
  async restart(): Promise<void> {
    if (!existsSync(this.proc.dir)) {
      throw new Error(`${this.label}.restart() after stop(): the data dir is gone`);
    }
    await this.proc.kill();
    try {
      await this.spawnAndAwaitReady();
    } catch (err) {
      await this.proc.kill();
      throw err;
    }
  }

  /** SIGSTOP: connections stay open but nothing answers (a hung server, not a dead one). */
  /** SIGSTOP the server; resolves once it is stopped. */
  pause(): Promise<void> {
    return this.proc.pause();
  }

  /** SIGCONT the server; resolves once it runs again. */
  resume(): Promise<void> {
    return this.proc.resume();
  }

  protected abstract spawnAndAwaitReady(): Promise<void>;
}
