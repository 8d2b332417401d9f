import { InvalidArgumentError, type Command } from 'commander';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { startWorker, type Worker } from '../../job/worker';
import { consoleLogger } from '../../logger';
import { serveMetrics, type MetricsServer } from '../../metrics/metrics-server';
import type { CoordinatorRegistryCenter } from '../../registry/registry-center';
import {
  DEFAULT_REGISTRY_URL,
  openRegistry,
  withCommonOptions,
  type CommonOptions,
} from '../cli-context';
import { loadJobModule } from '../module-loader';
import { printJson, printLine } from '../output';

interface RunOptions extends CommonOptions {
  instanceId?: string;
  drainTimeoutMs: number;
  metricsPort?: number;
  metricsHost: string;
}

/** Default of `--drain-timeout-ms`: how long running items may take to finish at SIGTERM / SIGINT. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

/**
 * `shardline run <module> [--instance-id <id>] [--drain-timeout-ms <ms>] [--metrics-port <p>]
 * [--metrics-host <h>]`: a worker for the jobs the module exports. With `--metrics-port` it serves
 * `/metrics` (Shardline's metrics plus the process's default prom-client metrics), `/healthz` and
 * `/readyz` (503 until the registry is connected and the jobs started) on `--metrics-host` (0.0.0.0),
 * from before the jobs start until the worker has drained. Prints one line once every job has started —
 * `shardline: worker <id> running jobs a,b on <registry>` (with `--json`: `{ "instanceId", "jobs",
 * "registry" }`) — and logs to stderr at info level. SIGTERM / SIGINT drain the worker (running items
 * get `--drain-timeout-ms`), close the registry and exit 0; a second signal exits at once with 1. The
 * worker also ends, with 0, when the operations API has stopped every one of its jobs (`shutdown` /
 * `remove`).
 */
export function registerRunCommand(program: Command): void {
  withCommonOptions(program.command('run'), DEFAULT_REGISTRY_URL)
    .argument(
      '<module>',
      'JS/TS module exporting defineJob results (default export array or named)',
    )
    .option('--instance-id <id>', 'instance id (default {ip}@-@{pid})')
    .option(
      '--drain-timeout-ms <ms>',
      'how long running items may finish at SIGTERM/SIGINT',
      parseMs,
      DEFAULT_DRAIN_TIMEOUT_MS,
    )
    .option('--metrics-port <port>', 'serve /metrics, /healthz and /readyz on this port', parsePort)
    .option('--metrics-host <host>', 'address the metrics endpoints listen on', '0.0.0.0')
    .description('run a worker for the jobs a module exports')
    .action(async (module: string, options: RunOptions) => {
      const jobs = loadJobModule(module);
      let worker: Worker | undefined;
      let metricsServer: MetricsServer | undefined;
      const register = new Registry();
      if (options.metricsPort !== undefined) {
        collectDefaultMetrics({ register });
        metricsServer = await serveMetrics({
          register,
          port: options.metricsPort,
          host: options.metricsHost,
          readiness: () => worker?.readiness() ?? { ready: false, reason: 'starting' },
        });
      }
      const registry = await openRegistry(options.registry ?? DEFAULT_REGISTRY_URL).catch(
        async (err: unknown) => {
          await metricsServer?.close();
          throw err;
        },
      );
      try {
        worker = await startWorker({
          registry,
          jobs,
          instanceId: options.instanceId,
          logger: consoleLogger('info'),
          ...(metricsServer === undefined ? {} : { metrics: { register } }),
        });
      } catch (err) {
        await registry.close().catch(() => undefined); // the start failure is the one to report
        await metricsServer?.close();
        throw err;
      }
      const names = jobs.map(j => j.name);
      if (options.json) {
        printJson({ instanceId: worker.instanceId, jobs: names, registry: registry.description });
      } else {
        printLine(
          `shardline: worker ${worker.instanceId} running jobs ${names.join(',')} on ${registry.description}`,
        );
      }
      await untilStopRequested(worker);
      try {
        await drain(worker, registry, options.drainTimeoutMs);
      } finally {
        await metricsServer?.close();
      }
    });
}

/** Resolves on SIGTERM / SIGINT, or once every job of the worker has stopped. */
function untilStopRequested(worker: Worker): Promise<void> {
  return new Promise(resolve => {
    const done = (): void => {
      process.off('SIGTERM', done);
      process.off('SIGINT', done);
      worker.off('jobStopped', onJobStopped);
      resolve();
    };
    const onJobStopped = (): void => {
      if (worker.jobs.length === 0) {
        done();
      }
    };
    process.on('SIGTERM', done);
    process.on('SIGINT', done);
    worker.on('jobStopped', onJobStopped);
  });
}

/** Graceful stop; a second signal meanwhile exits at once (exit code 1). */
async function drain(
  worker: Worker,
  registry: CoordinatorRegistryCenter,
  timeoutMs: number,
): Promise<void> {
  const force = (): void => {
    process.stderr.write('shardline: second signal: exiting without draining\n');
    process.exit(1);
  };
  process.once('SIGTERM', force);
  process.once('SIGINT', force);
  try {
    try {
      await worker.stop({ timeoutMs });
    } finally {
      await registry.close();
    }
  } finally {
    process.off('SIGTERM', force);
    process.off('SIGINT', force);
  }
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) {
    throw new InvalidArgumentError('a port is an integer from 0 to 65535.');
  }
  return n;
}

function parseMs(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError('a duration is a non-negative integer of milliseconds.');
  }
  return n;
}
