import { expect } from 'chai';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createConsoleHandler } from '../../lib/console/console-handler';
import { runDemo } from '../../lib/cli/demo';
import { startConsoleServer, type ConsoleServer } from '../../lib/console/console-server';
import { defineJob } from '../../lib/job/define-job';
import { JobPaths } from '../../lib/job/job-paths';
import { startWorker, type Worker } from '../../lib/job/worker';
import { createRegistryCenter } from '../../lib/registry/create-registry-center';
import type { CoordinatorRegistryCenter } from '../../lib/registry/registry-center';
import { uniqueNamespace } from '../harness/namespace';
import { spawnNode } from '../harness/process';
import { ms } from '../harness/timing';

/**
 * The console's HTTP surface on the embedded registry (no browser): routing under a prefix, what a POST
 * needs, the version-checked configuration edit, the live stream, and the mounting examples.
 */
describe('web console: HTTP surface', function () {
  this.timeout(ms(30_000));

  const JOB = 'console-http';
  const paths = new JobPaths(JOB);
  let registry: CoordinatorRegistryCenter;
  let workerRegistry: CoordinatorRegistryCenter;
  let worker: Worker;
  let server: ConsoleServer;

  before(async () => {
    const url = `memory://${uniqueNamespace('console')}`;
    workerRegistry = createRegistryCenter(url);
    await workerRegistry.init();
    const job = defineJob({ name: JOB, shardingTotalCount: 2, execute: () => undefined });
    worker = await startWorker({ registry: workerRegistry, jobs: [job], instanceId: 'w1' });
    registry = createRegistryCenter(url);
    await registry.init();
    server = await startConsoleServer({ registry, port: 0 });
  });

  after(async () => {
    await server.close();
    await worker.stop();
    await workerRegistry.close();
    await registry.close();
  });

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

  it('GET changes nothing: an action path answers 404 to GET, other methods 405', async () => {
    expect((await fetch(`${server.url}api/jobs/${JOB}/trigger`)).status).to.equal(404);
    expect(
      (await fetch(`${server.url}api/jobs/${JOB}/trigger`, { method: 'PUT' })).status,
    ).to.equal(405);
    expect(await registry.getChildrenKeys(paths.triggers)).to.deep.equal([]);
  });

  it('refuses a POST that is not JSON (415) or comes from another origin (403)', async () => {
    const form = await fetch(`${server.url}api/jobs/${JOB}/trigger`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a=b',
    });
    expect(form.status).to.equal(415);
    const cross = await post(`api/jobs/${JOB}/trigger`, {}, { origin: 'http://evil.example' });
    expect(cross.status).to.equal(403);
    expect(await registry.getChildrenKeys(paths.triggers)).to.deep.equal([]);
  });

  it('the configuration edit reports every field problem, refuses a stale version (409) and writes a valid one', async () => {
    const version = (await registry.getStat(paths.config))!.version;
    const bad = await post(`api/jobs/${JOB}/config`, {
      version,
      patch: { shardingItemParameters: '0=a,7=b', timeZone: 'Mars/Base' },
    });
    expect(bad.status).to.equal(400);
    const { issues } = (await bad.json()) as { issues: { field: string }[] };
    expect(issues.map(i => i.field).sort()).to.deep.equal(['shardingItemParameters', 'timeZone']);
    const stale = await post(`api/jobs/${JOB}/config`, { version: version + 1, patch: {} });
    expect(stale.status).to.equal(409);
    const ok = await post(`api/jobs/${JOB}/config`, {
      version,
      patch: { cron: '0 0 3 * * *', shardingItemParameters: '0=a,1=b' },
    });
    expect(ok.status).to.equal(200);
    const stored = JSON.parse((await registry.getDirectly(paths.config))!) as {
      cron: string;
      shardingItemParameters: Record<string, string>;
    };
    expect(stored.cron).to.equal('0 0 3 * * *');
    expect(stored.shardingItemParameters).to.deep.equal({ 0: 'a', 1: 'b' });
  });

  it('pushes a registry change to the live stream within a second, naming the job', async () => {
    const received = new Promise<{ at: number; data: string }>((resolve, reject) => {
      const req = httpRequest(`${server.url}api/events`, res => {
        res.setEncoding('utf8');
        let buffer = '';
        res.on('data', (chunk: string) => {
          buffer += chunk;
          const event = /event: change\ndata: (.*)\n\n/.exec(buffer);
          if (event !== null) {
            resolve({ at: Date.now(), data: event[1] ?? '' });
            req.destroy();
          } else if (buffer.includes('event: hello')) {
            void registry.persist(paths.itemDisabled(1), '').then(() => {
              written = Date.now();
            }, reject);
          }
        });
      });
      req.on('error', err => {
        if (!(err.message.includes('aborted') || err.message.includes('socket hang up'))) {
          reject(err);
        }
      });
      req.end();
    });
    let written = 0;
    const { at, data } = await received;
    expect(JSON.parse(data)).to.include({ runs: false }).and.to.have.property('jobs');
    expect((JSON.parse(data) as { jobs: string[] }).jobs).to.deep.equal([JOB]);
    expect(at - written).to.be.below(1000);
    await registry.remove(paths.itemDisabled(1));
  });

  it('serves under a prefix: /console redirects to /console/, the page, whose API is relative', async () => {
    const handler = createConsoleHandler({ registry, prefix: '/console' });
    const http = createServer(handler);
    await new Promise<void>(resolve => http.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    try {
      const bare = await fetch(`${base}/console`, { redirect: 'manual' });
      expect(bare.status).to.equal(308);
      expect(bare.headers.get('location')).to.equal('/console/');
      const page = await fetch(`${base}/console/`);
      expect(page.headers.get('content-type')).to.contain('text/html');
      expect(await page.text()).to.contain('src="app.js"');
      expect(page.headers.get('content-security-policy')).to.contain("script-src 'self'");
      const session = (await (await fetch(`${base}/console/api/session`)).json()) as {
        readOnly: boolean;
      };
      expect(session.readOnly).to.equal(false);
    } finally {
      await handler.close();
      http.closeAllConnections();
      await new Promise(resolve => http.close(resolve));
    }
  });

  it('examples/console-{http,express,fastify}.ts each mount the console under /console and serve it', async () => {
    const examples = ['console-http', 'console-express', 'console-fastify'];
    // In parallel: each is a cold tsx start of a few seconds on a loaded machine.
    const children = examples.map(e => spawnNode(`examples/${e}.ts`, ['--smoke']));
    const codes = await Promise.all(children.map(c => c.exited));
    codes.forEach((code, i) => {
      const child = children[i]!;
      expect(code, `${examples[i]}: ${child.stderr()}`).to.equal(0);
      expect(child.lines.seen.join('\n')).to.contain(`${examples[i]}: smoke ok`);
    });
  });

  it('shuts the job down on one named live instance only; an unknown instance is refused (400)', async () => {
    const unknown = await post(`api/jobs/${JOB}/shutdown`, { instanceId: 'nobody' });
    expect(unknown.status).to.equal(400);
    expect(await registry.getChildrenKeys(paths.shutdowns)).to.deep.equal([]);
    await registry.addCacheData(paths.root);
    const cache = registry.getRawCache(paths.root)!;
    const ok = await post(`api/jobs/${JOB}/shutdown`, { instanceId: 'w1' });
    expect(ok.status).to.equal(200);
    expect(
      ((await ok.json()) as { result: { instances: string[] } }).result.instances,
    ).to.deep.equal(['w1']);
    await cache.waitFor(c => !c.has(paths.instance('w1')), { timeoutMs: ms(10_000) });
    await registry.evictCacheData(paths.root);
  });

  it('the demo prints the console URL and serves its job and every run while it runs', async function () {
    this.timeout(ms(40_000));
    let release: () => void = () => undefined;
    const keepOpenUntil = new Promise<void>(resolve => {
      release = resolve;
    });
    let checked: Promise<{
      jobs: { job: string }[];
      runs: { source: string; records: unknown[] };
    }> = Promise.reject(new Error('the demo never said it keeps running'));
    checked.catch(() => undefined);
    let url = '';
    await runDemo(
      line => {
        url = /^Web console: (\S+)$/.exec(line)?.[1] ?? url;
        if (line.includes('keep running')) {
          checked = (async () => {
            const jobs = (await (await fetch(`${url}api/overview`)).json()) as { job: string }[];
            const history = await fetch(`${url}api/history?job=order-sync`);
            const runs = (await history.json()) as { source: string; records: unknown[] };
            return { jobs, runs };
          })().finally(release);
        }
      },
      { console: { port: 0, keepOpenUntil } },
    );
    const { jobs, runs } = await checked;
    expect(url).to.match(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(jobs.map(j => j.job)).to.deep.equal(['order-sync']);
    expect(runs.source).to.equal('history');
    expect(runs.records.length).to.be.greaterThan(6);
  });
});
