import { expect } from 'chai';
import { RegistryCommandRefusedError } from '../../../lib/errors';
import { defineJob, type JobDefinition } from '../../../lib/job/define-job';
import { serializeJobConfig } from '../../../lib/job/job-config';
import type {
  ConfigDriftEvent,
  ExecutedEvent,
  JobErrorEvent,
  ShardedEvent,
} from '../../../lib/job/job-events';
import { startWorker, type Worker } from '../../../lib/job/worker';
import type { LogFields, Logger } from '../../../lib/logger';
import { createOperations } from '../../../lib/ops/operations-api';
import { createRegistryCenter } from '../../../lib/registry/create-registry-center';
import { DrivenRegistryCenter } from '../../../lib/registry/driven-registry-center';
import { MemoryDriver } from '../../../lib/registry/memory/memory-driver';
import type { CoordinatorRegistryCenter } from '../../../lib/registry/registry-center';
import { EventQueue } from '../../harness/events';
import { uniqueNamespace } from '../../harness/namespace';
import { ms } from '../../harness/timing';

interface Line {
  level: string;
  msg: string;
  fields: LogFields | undefined;
}

function recordingLogger(): Logger & { lines: Line[] } {
  const lines: Line[] = [];
  const at =
    (level: string) =>
    (msg: string, fields?: LogFields): void =>
      void lines.push({ level, msg, fields });
  const logger = {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (): Logger => logger,
  };
  return logger;
}

/** Lets queued immediates run (startWorker's start reports): one event-loop turn, not a sleep. */
const nextTurn = (): Promise<void> => new Promise(resolve => setImmediate(resolve));

/**
 * What registry data may do on a worker (a command changed in the registry runs only with
 * `allowRegistryCommand`) and what a worker says when its definition and the stored configuration differ
 * (`configDrift`), on the embedded registry.
 */
describe('worker trust: registry commands and configuration drift (memory)', function () {
  this.timeout(ms(15_000));
  let namespace: string;
  let registries: CoordinatorRegistryCenter[];
  let workers: Worker[];

  beforeEach(() => {
    namespace = uniqueNamespace();
    registries = [];
    workers = [];
  });

  afterEach(async () => {
    await Promise.all(workers.map(w => w.stop({ timeoutMs: 2000 })));
    await Promise.all(registries.map(r => r.close()));
  });

  async function client(): Promise<CoordinatorRegistryCenter> {
    const registry = createRegistryCenter(`memory://${namespace}`);
    registries.push(registry);
    await registry.init();
    return registry;
  }

  async function start(
    jobs: JobDefinition[],
    options: { allowRegistryCommand?: boolean; registry?: CoordinatorRegistryCenter } = {},
  ): Promise<{
    worker: Worker;
    logger: ReturnType<typeof recordingLogger>;
    errors: EventQueue<JobErrorEvent>;
    executed: EventQueue<ExecutedEvent>;
    drift: EventQueue<ConfigDriftEvent>;
    sharded: EventQueue<ShardedEvent>;
  }> {
    const logger = recordingLogger();
    const registry = options.registry ?? (await client());
    const worker = await startWorker({
      registry,
      jobs,
      instanceId: `w-${workers.length}`,
      logger,
      allowRegistryCommand: options.allowRegistryCommand,
    });
    workers.push(worker);
    const errors = new EventQueue<JobErrorEvent>();
    const executed = new EventQueue<ExecutedEvent>();
    const drift = new EventQueue<ConfigDriftEvent>();
    worker.on('error', e => errors.push(e));
    worker.on('executed', e => executed.push(e));
    worker.on('configDrift', e => drift.push(e));
    const sharded = new EventQueue<ShardedEvent>();
    worker.on('sharded', e => sharded.push(e));
    return { worker, logger, errors, executed, drift, sharded };
  }

  const script = defineJob({ name: 'job', type: 'script', command: 'echo defined; :' });

  /** Stores the script job's configuration with `command`, as anyone with write access could. */
  async function storeCommand(command: string): Promise<CoordinatorRegistryCenter> {
    const writer = await client();
    await writer.persist('/job/config', serializeJobConfig({ ...script.config, command }));
    return writer;
  }

  async function runOnce(w: Awaited<ReturnType<typeof start>>): Promise<string[]> {
    if (w.worker.items('job').length === 0) {
      // A trigger while the first resharding is pending finds no item to run.
      await w.sharded.takeUntil(e => e.items.length > 0, ms(5000), 'the item assigned');
    }
    await createOperations(registries[0]!).trigger('job');
    await w.executed.take(ms(5000), 'a run');
    return w.logger.lines.filter(l => l.msg === 'script output').map(l => String(l.fields?.line));
  }

  describe('a script command changed in the registry', () => {
    it('does not run without allowRegistryCommand: the definition’s runs and the difference is reported with its path, once per value', async () => {
      const writer = await storeCommand('echo stored; :');
      const w = await start([script]);

      const refused = await w.errors.take(ms(2000), 'the refused command');
      expect(refused.error).to.be.instanceOf(RegistryCommandRefusedError);
      expect((refused.error as RegistryCommandRefusedError).path).to.equal('/job/config');
      expect(await runOnce(w)).to.deep.equal(['defined']);
      expect(await runOnce(w)).to.deep.equal(['defined', 'defined']);
      expect(w.errors.pending, 'reported once, not per run').to.have.length(0);

      // Changed again at runtime: the new value is refused (and reported) too.
      await writer.update(
        '/job/config',
        serializeJobConfig({ ...script.config, command: 'echo changed; :' }),
      );
      const cache = w.worker.runtime('job')!;
      await registries[1]!
        .getRawCache('/job')!
        .waitFor(() => cache.currentConfig.command === 'echo changed; :', { timeoutMs: ms(2000) });
      expect(await runOnce(w)).to.deep.equal(['defined', 'defined', 'defined']);
      const again = await w.errors.take(ms(2000), 'the second refusal');
      expect(again.error).to.be.instanceOf(RegistryCommandRefusedError);
      const warnings = w.logger.lines.filter(l => l.msg.startsWith('the stored command differs'));
      expect(warnings.map(l => l.fields?.path)).to.deep.equal(['/job/config', '/job/config']);
    });

    it('runs with allowRegistryCommand: true', async () => {
      await storeCommand('echo stored; :');
      const w = await start([script], { allowRegistryCommand: true });

      expect(await runOnce(w)).to.deep.equal(['stored']);
      await nextTurn();
      expect(w.errors.seen).to.have.length(0);
      expect(w.logger.lines.map(l => l.msg)).to.include(
        'running the command stored in the registry (allowRegistryCommand)',
      );
    });

    it('the same command in the registry and the definition: runs, nothing reported', async () => {
      await storeCommand('echo defined; :');
      const w = await start([script]);
      expect(await runOnce(w)).to.deep.equal(['defined']);
      await nextTurn();
      expect(w.errors.seen).to.have.length(0);
    });
  });

  describe('allowRegistryCommand and credentials', () => {
    const warning = (w: { logger: { lines: Line[] } }): Line[] =>
      w.logger.lines.filter(l => l.level === 'warn' && l.msg.includes('without credentials'));

    it('logs a warning on a registry client without credentials', async () => {
      const w = await start([script], { allowRegistryCommand: true });
      expect(warning(w)).to.have.length(1);
      expect(warning(w)[0]?.fields?.registry).to.equal(`memory://${namespace}`);
    });

    it('hasCredentials: URL user-info or auth, or an etcd TLS client certificate (no connection needed)', () => {
      expect(createRegistryCenter('zookeeper://ops:pw@127.0.0.1:2181/ns').hasCredentials).to.equal(
        true,
      );
      expect(createRegistryCenter('zookeeper://127.0.0.1:2181/ns').hasCredentials).to.equal(false);
      expect(createRegistryCenter('etcd://ops:pw@127.0.0.1:2379/ns').hasCredentials).to.equal(true);
      expect(createRegistryCenter('etcd://127.0.0.1:2379/ns').hasCredentials).to.equal(false);
      // The flag is the facade's, whatever the driver (an etcd client would parse real PEM here).
      const tls = (tlsOptions: { ca?: string; cert?: string; key?: string }): boolean =>
        new DrivenRegistryCenter(new MemoryDriver({ type: 'memory', namespace: 'ns' }), {
          tls: tlsOptions,
        }).hasCredentials;
      expect(tls({ cert: 'CERT', key: 'KEY' })).to.equal(true);
      expect(tls({ ca: 'CA' })).to.equal(false);
      expect(createRegistryCenter('memory://ns').hasCredentials).to.equal(false);
    });

    it('logs none with credentials, nor without the opt-in', async () => {
      const withAuth = new DrivenRegistryCenter(new MemoryDriver({ type: 'memory', namespace }), {
        auth: { username: 'ops', password: 's3cret' },
      });
      registries.push(withAuth);
      expect(withAuth.hasCredentials).to.equal(true);
      expect(
        warning(await start([script], { allowRegistryCommand: true, registry: withAuth })),
      ).to.have.length(0);
      expect(warning(await start([script]))).to.have.length(0);
    });
  });

  describe('configDrift', () => {
    const job = (options: Record<string, unknown> = {}): JobDefinition =>
      defineJob({
        name: 'job',
        cron: '0 0 0 1 1 *',
        shardingTotalCount: 2,
        execute: () => undefined,
        ...options,
      });

    it('a worker whose definition differs from the stored configuration says so at start: event + one warning naming the fields and how to apply them', async () => {
      const first = await start([job()]);
      const second = await start([
        job({ cron: '0 0 0 2 1 *', shardingTotalCount: 3, disabled: true, description: 'x' }),
      ]);

      const drift = await second.drift.take(ms(2000), 'configDrift');
      expect(drift.job).to.equal('job');
      expect(drift.path).to.equal('/job/config');
      // `disabled` is operator state, never drift.
      expect(drift.differences).to.deep.equal([
        { field: 'cron', stored: '0 0 0 1 1 *', definition: '0 0 0 2 1 *' },
        { field: 'shardingTotalCount', stored: 2, definition: 3 },
        { field: 'description', stored: '', definition: 'x' },
      ]);
      const lines = second.logger.lines.filter(l => l.msg.includes('differs from this definition'));
      expect(lines).to.have.length(1);
      expect(lines[0]?.level).to.equal('warn');
      expect(lines[0]?.fields?.fields).to.deep.equal(['cron', 'shardingTotalCount', 'description']);
      expect(String(lines[0]?.fields?.apply))
        .to.include('overwrite: true')
        .and.include('updateJobConfig');
      expect(second.worker.runtime('job')!.currentConfig.cron).to.equal('0 0 0 1 1 *');
      await nextTurn();
      expect(first.drift.seen, 'the first writer has no drift').to.have.length(0);
    });

    it('no drift for the same definition, nor with overwrite: true', async () => {
      await start([job()]);
      const same = await start([job({ disabled: true })]);
      const overwriting = await start([job({ cron: '0 0 0 3 1 *', overwrite: true })]);
      await nextTurn();
      expect(same.drift.seen).to.have.length(0);
      expect(overwriting.drift.seen).to.have.length(0);
      expect(overwriting.worker.runtime('job')!.currentConfig.cron).to.equal('0 0 0 3 1 *');
    });
  });
});
