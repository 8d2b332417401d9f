import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, readFileSync, rmSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { EventQueue, waitFor } from './events';

// ---------------------------------------------------------------------------------------------------------
// Leftover registry. Every child the harness starts (servers, node workers) is tracked here and SIGKILLed when
// this process exits, so a crashed or interrupted test run never leaves ZooKeeper/etcd/workers behind.
// 'exit' covers normal ends and process.exit(); SIGINT/SIGTERM/SIGHUP would otherwise kill us without running
// 'exit' handlers (serial mocha installs none), so those get a handler too. A SIGKILL of this process itself
// cannot be caught: then the children leak, which is the one case this does not cover.
// ---------------------------------------------------------------------------------------------------------
const tracked = new Set<ChildProcess>();
/** Server temp dirs not yet removed by stop(): deleted at exit too, so crashed runs do not fill /tmp. */
const tempDirs = new Set<string>();
let hooksInstalled = false;

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function killLeftovers(): void {
  for (const child of tracked) {
    if (isRunning(child) && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // Already gone (ESRCH): nothing to clean.
      }
    }
  }
  tracked.clear();
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Best effort: a dying server may still hold a file open.
    }
  }
  tempDirs.clear();
}

function installHooks(): void {
  if (hooksInstalled) {
    return;
  }
  hooksInstalled = true;
  process.on('exit', killLeftovers);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killLeftovers();
      // If nobody else handles the signal, restore the default behaviour (die by that signal).
      process.removeListener(signal, onSignal);
      if (process.listenerCount(signal) === 0) {
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

/** Tracks `child` so it is SIGKILLed if still running when this process exits. Untracked once it exits. */
export function trackChild(child: ChildProcess): void {
  installHooks();
  tracked.add(child);
  child.once('exit', () => tracked.delete(child));
}

/** Resolves once `child` has exited (immediately if it already has). */
export function awaitExit(child: ChildProcess): Promise<void> {
  if (!isRunning(child)) {
    return Promise.resolve();
  }
  return new Promise(resolve => child.once('exit', () => resolve()));
}

/** Absolute path of an executable: `preferred` when it exists, otherwise `name` looked up on PATH. */
export function findExecutable(name: string, preferred?: string): string | undefined {
  const candidates = [
    ...(preferred === undefined ? [] : [preferred]),
    ...(process.env.PATH ?? '')
      .split(delimiter)
      .filter(Boolean)
      .map(dir => join(dir, name)),
  ];
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here; try the next one.
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Node workers for multi-process tests.
// ---------------------------------------------------------------------------------------------------------

export interface ChildHandle {
  readonly pid: number;
  /** stdout, one entry per line (without the newline). */
  readonly lines: EventQueue<string>;
  /** Everything written to stderr so far (for failure messages). */
  stderr(): string;
  /** Sends `signal` (default SIGTERM); a no-op once the process has exited. */
  kill(signal?: NodeJS.Signals): void;
  /** Exit code, or null when the process was ended by a signal. Never rejects. */
  readonly exited: Promise<number | null>;
}

// Resolved absolutely so the child finds tsx whatever its cwd. `--import tsx` works on Node 20.20 with tsx 4
// for this CommonJS project (checked); the loader registers both the ESM and the CJS hooks.
const tsxLoader = pathToFileURL(require.resolve('tsx')).href;

/** Runs a TypeScript file in a fresh Node process (`node --import tsx script ...args`). */
export function spawnNode(
  scriptPath: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): ChildHandle {
  const child = spawn(process.execPath, ['--import', tsxLoader, scriptPath, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: false,
  });
  if (child.pid === undefined) {
    throw new Error(`spawnNode: could not start ${scriptPath}`);
  }
  trackChild(child);
  const lines = new EventQueue<string>();
  createInterface({ input: child.stdout }).on('line', line => lines.push(line));
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  // 'close' (not 'exit') so every stdout line has been pushed before `exited` resolves.
  const exited = new Promise<number | null>(resolve => {
    child.once('close', (code: number | null) => resolve(code));
  });
  return {
    pid: child.pid,
    lines,
    stderr: () => stderr,
    kill: (signal: NodeJS.Signals = 'SIGTERM') => {
      if (isRunning(child)) {
        child.kill(signal);
      }
    },
    exited,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Server processes (ZooKeeper, etcd): one child at a time, output appended to a log file in the server's temp
// dir, always stopped by the stored PID with SIGKILL (a crash is what the tests want to survive anyway, and
// it is fast and deterministic).
// ---------------------------------------------------------------------------------------------------------

/** One restartable server process whose stdout/stderr go to `logFile` (appended across restarts). */
export class ServerProcess {
  private child: ChildProcess | undefined;
  private lastPid = -1;
  private spawnError: Error | undefined;

  constructor(
    readonly name: string,
    readonly command: string,
    readonly args: readonly string[],
    readonly dir: string,
    readonly logFile: string,
    /** Run as this user (PostgreSQL refuses to run as root); default: as we run. */
    private readonly user?: { uid: number; gid: number },
  ) {
    installHooks();
    tempDirs.add(dir);
  }

  /** PID of the current (or, once stopped, the last) process; -1 before the first spawn. */
  get pid(): number {
    return this.lastPid;
  }

  get running(): boolean {
    return this.child !== undefined && isRunning(this.child);
  }

  spawn(): void {
    if (this.running) {
      throw new Error(`${this.name} is already running (pid ${this.lastPid})`);
    }
    const fd = openSync(this.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(this.command, [...this.args], {
        stdio: ['ignore', fd, fd],
        detached: false,
        ...(this.user === undefined ? {} : { uid: this.user.uid, gid: this.user.gid }),
      });
    } finally {
      closeSync(fd); // the child holds its own copy
    }
    this.spawnError = undefined;
    // Without a listener, a spawn failure (ENOENT) would be an uncaught 'error' event.
    child.on('error', err => {
      this.spawnError = err;
    });
    this.child = child;
    this.lastPid = child.pid ?? -1;
    trackChild(child);
  }

  /** Throws when the process died or never started: lets readiness loops fail fast instead of timing out. */
  assertAlive(): void {
    if (this.spawnError) {
      throw new Error(`${this.name}: could not start ${this.command}: ${this.spawnError.message}`);
    }
    if (this.child && !isRunning(this.child)) {
      const how = this.child.signalCode ?? `code ${String(this.child.exitCode)}`;
      throw new Error(`${this.name} (pid ${this.lastPid}) exited (${how})`);
    }
  }

  /**
   * SIGKILL (or `signal`) by PID and wait for the exit; SIGKILL works on a paused (SIGSTOPped) process too.
   * Idempotent.
   */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || !isRunning(child)) {
      return;
    }
    const exited = awaitExit(child);
    process.kill(this.lastPid, signal);
    await exited;
  }

  /**
   * SIGSTOP, resolved once the kernel reports the process stopped (/proc state `T`): a signal is delivered
   * asynchronously, and a multi-threaded JVM may still answer a request in between.
   */
  async pause(): Promise<void> {
    this.signal('SIGSTOP');
    await waitFor(() => this.isStopped(), 5000, `${this.name} to stop`, 5);
  }

  /** SIGCONT, resolved once the process runs again. */
  async resume(): Promise<void> {
    this.signal('SIGCONT');
    await waitFor(() => !this.isStopped(), 5000, `${this.name} to resume`, 5);
  }

  /** True while the kernel reports the process stopped (state `T` in /proc/<pid>/stat; Linux). */
  private isStopped(): boolean {
    const stat = readFileSync(`/proc/${this.lastPid}/stat`, 'utf8');
    // The command name is in parentheses and may contain spaces: the state follows the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'T';
  }

  /** Kills the process and deletes its directory (data and log). */
  async destroy(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
    tempDirs.delete(this.dir);
  }

  /** Last `lines` lines of the log, for failure messages. */
  logTail(lines = 30): string {
    let text: string;
    try {
      text = readFileSync(this.logFile, 'utf8');
    } catch {
      return `(no log at ${this.logFile})`;
    }
    const tail = text.trimEnd().split('\n').slice(-lines).join('\n');
    return `--- last ${lines} lines of ${this.logFile} ---\n${tail}`;
  }

  private signal(signal: NodeJS.Signals): void {
    if (!this.running) {
      throw new Error(`${this.name} is not running`);
    }
    process.kill(this.lastPid, signal);
  }
}
