import { expect } from 'chai';
import { RegistryCommandRefusedError } from '../../lib/errors';
import { defineJob } from '../../lib/job/define-job';
import { serializeJobConfig } from '../../lib/job/job-config';
import type { ExecutedEvent, ShardedEvent } from '../../lib/job/job-events';
import { JobPaths } from '../../lib/job/job-paths';
import { startWorker, type Worker } from '../../lib/job/worker';
import type { LogFields, Logger } from '../../lib/logger';
import { createOperations } from '../../lib/ops/operations-api';
import { EventQueue } from '../harness/events';
import { ms } from '../harness/timing';
import type { BackendFactory } from './backend-factory';
import { Clients } from './clients';

/** Script output lines (`script output` at info/warn) as the worker logged them. */
function outputLogger(): Logger & { output: string[] } {
  const output: string[] = [];
  const line = (msg: string, fields?: LogFields): void => {
    if (msg === 'script output') {
      output.push(String(fields?.line));
    }
  };
  const logger = { output, debug: line, info: line, warn: line, error: line, child: () => logger };
  return logger;
}

/**
 * Registry data never becomes code, on a real registry: a script command written into the
 * stored configuration runs only on a worker that opted in. Written once, run on every backend.
 */
export function describeJobTrustContract(factory: BackendFactory): void {
  describe(`registry data never becomes code (${factory.name})`, function () {
    this.timeout(ms(30_000));
    const paths = new JobPaths('job');
    const script = defineJob({ name: 'job', type: 'script', command: 'echo defined; :' });
    let clients: Clients;
    let worker: Worker | undefined;

    beforeEach(() => {
      clients = new Clients(factory);
    });

    afterEach(async () => {
      await worker?.stop({ timeoutMs: 2000 });
      worker = undefined;
      await clients.closeAll();
    });

    /** Stores the job with another command (as any writer could), starts a worker, triggers one run. */
    async function runWithStoredCommand(allowRegistryCommand: boolean): Promise<{
      output: string[];
      errors: Error[];
    }> {
      const writer = await clients.connect();
      await writer.persist(
        paths.config,
        serializeJobConfig({ ...script.config, command: 'echo stored; :' }),
      );
      const logger = outputLogger();
      const registry = await clients.connect();
      worker = await startWorker({
        registry,
        jobs: [script],
        instanceId: 'w-a',
        logger,
        allowRegistryCommand,
      });
      const executed = new EventQueue<ExecutedEvent>();
      const errors: Error[] = [];
      worker.on('executed', e => executed.push(e));
      worker.on('error', e => errors.push(e.error));
      const sharded = new EventQueue<ShardedEvent>();
      worker.on('sharded', e => sharded.push(e));
      if (worker.items('job').length === 0) {
        // A trigger while the first resharding is pending finds no item to run.
        await sharded.takeUntil(e => e.items.length > 0, ms(10_000), 'the item assigned');
      }
      await createOperations(writer).trigger('job');
      await executed.take(ms(10_000), 'the triggered run');
      return { output: logger.output, errors };
    }

    it('a command changed in the registry does not run without allowRegistryCommand; the difference is reported', async () => {
      const { output, errors } = await runWithStoredCommand(false);
      expect(output).to.deep.equal(['defined']);
      const refused = errors.filter(e => e instanceof RegistryCommandRefusedError);
      expect(refused.map(e => e.path)).to.deep.equal([paths.config]);
    });

    it('it runs with allowRegistryCommand: true', async () => {
      const { output, errors } = await runWithStoredCommand(true);
      expect(output).to.deep.equal(['stored']);
      expect(errors.filter(e => e instanceof RegistryCommandRefusedError)).to.deep.equal([]);
    });
  });
}
