import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import type {
  HostCommand,
  HostEvent,
  HostJobSpec,
  HostReply,
} from '../fixtures/jobs/host-protocol';
import { trackChild } from './process';
import { ms } from './timing';

export type { HostEvent, HostJobSpec, LifeLine } from '../fixtures/jobs/host-protocol';

/** The worker-host entry (test/fixtures/jobs/worker-host.ts). */
export const WORKER_HOST = resolve(__dirname, '../fixtures/jobs/worker-host.ts');

/** A fresh `node --import tsx` process on 2 shared cores with a cold tsx cache. */
const BOOT_TIMEOUT_MS = 20_000;
/** A start (registry init + startWorker) or a drain; generous, a deadline only. */
const COMMAND_TIMEOUT_MS = 20_000;

const tsxLoader = pathToFileURL(require.resolve('tsx')).href;

type Listener = (event: HostEvent) => void;

/**
 * A long-lived worker-host process (see host-protocol.ts): `start` / `stop` a worker in it with a given
 * instance id and registry URL, a few milliseconds after asking, and listen to what its lives report.
 * Stopped by PID: `sigkill()` or `exit()`; harness/process.ts SIGKILLs a leftover when the test process
 * exits.
 */
export class WorkerHost {
  /** Wall-clock time of our SIGKILL (ends the open executions of its lives), once killed. */
  killedAt: number | undefined;
  private readonly listeners = new Set<Listener>();
  private nextId = 1;
  private stderrText = '';
  private exitCode: number | null | 'running' = 'running';
  readonly exited: Promise<number | null>;

  private constructor(private readonly child: ChildProcess & { pid: number }) {
    trackChild(child);
    createInterface({ input: child.stdout ?? process.stdin }).on('line', line => {
      if (!line.startsWith('{')) {
        return;
      }
      let event: HostEvent;
      try {
        event = JSON.parse(line) as HostEvent;
      } catch {
        return; // not one of ours
      }
      for (const listener of [...this.listeners]) {
        listener(event);
      }
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderrText += chunk;
    });
    // 'close' (not 'exit'): every stdout line has been dispatched before `exited` resolves.
    this.exited = new Promise(done =>
      child.once('close', (code: number | null) => {
        this.exitCode = code;
        done(code);
      }),
    );
  }

  /** Spawns a host and resolves once it is ready for commands (its `hello` line). */
  static async spawn(timeoutMs = ms(BOOT_TIMEOUT_MS)): Promise<WorkerHost> {
    const child = spawn(process.execPath, ['--import', tsxLoader, WORKER_HOST], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    if (child.pid === undefined) {
      throw new Error(`could not start ${WORKER_HOST}`);
    }
    const host = new WorkerHost(child as ChildProcess & { pid: number });
    try {
      await host.next(e => e.event === 'hello', timeoutMs, 'its hello');
    } catch (err) {
      host.sigkill();
      await host.exited;
      throw err;
    }
    return host;
  }

  get pid(): number {
    return this.child.pid;
  }

  get isRunning(): boolean {
    return this.exitCode === 'running';
  }

  /** Calls `listener` with every event the host prints from now on; returns the unsubscribe. */
  onEvent(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Starts a worker in the host. Resolves with the life's `starting` and `started` replies (the life's
   * number is `starting.id`); rejects with the host's error or its stderr when it fails or exits.
   */
  async start(
    url: string,
    instanceId: string,
    job: HostJobSpec,
  ): Promise<{ starting: HostReply & { event: 'starting' }; started: HostReply }> {
    const id = this.nextId++;
    let starting: (HostReply & { event: 'starting' }) | undefined;
    const off = this.onEvent(e => {
      if (e.event === 'starting' && e.id === id) {
        starting = e;
      }
    });
    try {
      const started = await this.request({ cmd: 'start', id, url, instanceId, ...job }, 'started');
      if (starting === undefined) {
        throw new Error(`host ${this.pid}: started without starting`);
      }
      return { starting, started };
    } finally {
      off();
    }
  }

  /** Drains the current worker (at most `drainMs`) and closes its registry client. */
  async stop(drainMs: number): Promise<number> {
    const reply = await this.request(
      { cmd: 'stop', id: this.nextId++, timeoutMs: drainMs },
      'stopped',
    );
    return reply.t;
  }

  /** SIGKILL by PID; records `killedAt`. A no-op once the process has exited. */
  sigkill(): void {
    if (!this.isRunning) {
      return;
    }
    this.killedAt ??= Date.now();
    process.kill(this.pid, 'SIGKILL');
  }

  /** Asks the host to stop its worker and exit; SIGKILL by PID when it does not within `timeoutMs`. */
  async exit(timeoutMs = ms(10_000)): Promise<void> {
    if (!this.isRunning) {
      return;
    }
    this.child.stdin?.write(`${JSON.stringify({ cmd: 'exit', id: this.nextId++ })}\n`);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>(done => {
      timer = setTimeout(() => done('late'), timeoutMs);
    });
    const outcome = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (outcome === 'late') {
      this.sigkill();
      await this.exited;
    }
  }

  /** Everything the host wrote to stderr so far. */
  stderr(): string {
    return this.stderrText;
  }

  /** For failure messages: pid and the last lines of stderr. */
  describe(lines = 15): string {
    const tail = this.stderrText.trimEnd().split('\n').slice(-lines).join('\n');
    return `--- worker host pid ${this.pid} stderr ---\n${tail}`;
  }

  private async request<K extends 'started' | 'stopped'>(
    command: HostCommand,
    want: K,
  ): Promise<HostReply & { event: K }> {
    const reply = await this.next(
      e => (e.event === want || e.event === 'failed') && e.id === command.id,
      ms(COMMAND_TIMEOUT_MS),
      `the reply to ${command.cmd} #${command.id}`,
      () => this.child.stdin?.write(`${JSON.stringify(command)}\n`),
    );
    if (reply.event === 'failed') {
      throw new Error(
        `host ${this.pid}: ${command.cmd} failed: ${reply.error}\n${this.describe()}`,
      );
    }
    return reply as HostReply & { event: K };
  }

  /** The first event matching `match` (after `send`, if given); rejects at the deadline or the host's exit. */
  private next<E extends HostEvent>(
    match: (e: HostEvent) => boolean,
    timeoutMs: number,
    what: string,
    send?: () => void,
  ): Promise<E> {
    return new Promise<E>((done, fail) => {
      const finish = (): void => {
        clearTimeout(timer);
        off();
      };
      const off = this.onEvent(e => {
        if (match(e)) {
          finish();
          done(e as E);
        }
      });
      const timer = setTimeout(() => {
        finish();
        fail(new Error(`host ${this.pid}: no ${what} within ${timeoutMs} ms\n${this.describe()}`));
      }, timeoutMs);
      void this.exited.then(code => {
        finish();
        fail(
          new Error(`host ${this.pid} exited (${String(code)}) before ${what}\n${this.describe()}`),
        );
      });
      send?.();
    });
  }
}
