import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { startConsoleServer, type ConsoleServer } from '../../lib/console/console-server';
import { JobPaths } from '../../lib/job/job-paths';
import { createOperations } from '../../lib/ops/operations-api';
import { createRegistryCenter } from '../../lib/registry/create-registry-center';
import type { CoordinatorRegistryCenter, TreeCache } from '../../lib/registry/registry-center';
import { uniqueNamespace } from '../harness/namespace';
import { zookeeperServerBackend } from '../harness/server-backends';
import { spawnNode } from '../harness/process';
import { ms } from '../harness/timing';
import { awaitAssignment, CLI_MAIN, WorkerFleet } from '../harness/worker-process';
import { HeadlessChromium } from './browser';

/**
 * The web console in a real browser (Debian's Chromium through playwright-core) over a real ZooKeeper
 * with `shardline run` worker processes: what an operator sees and does. Every wait is on the page's own
 * DOM (playwright waits for the element) or on the registry cache; nothing sleeps.
 */

const JOB = 'console-e2e';
const COUNT = 4;
/** ZooKeeper session timeout of the workers. */
const SESSION_MS = 2000;
const SETTLE_MS = ms(10_000);
/** A DOM change the console pushes (registry watch → SSE → re-render): well within this. */
const LIVE_MS = ms(5000);

describe('web console in a browser (ZooKeeper, worker processes)', function () {
  this.timeout(ms(60_000));

  const backend = zookeeperServerBackend();
  let chromium: HeadlessChromium | undefined;
  let observer: CoordinatorRegistryCenter | undefined;
  let consoleRegistry: CoordinatorRegistryCenter | undefined;
  let cache: TreeCache;
  let fleet: WorkerFleet | undefined;
  let server: ConsoleServer | undefined;
  let extra: ConsoleServer | undefined;
  let page: Page;
  let dir: string | undefined;
  let registryUrl = '';
  const paths = new JobPaths(JOB);

  before(async function () {
    this.timeout(ms(60_000));
    const [browser] = await Promise.all([HeadlessChromium.launch(), backend.start()]);
    chromium = browser;
    const url = backend.url(uniqueNamespace('console'), SESSION_MS);
    registryUrl = url;
    observer = createRegistryCenter(url);
    await observer.init();
    await observer.persist(paths.root, '');
    await observer.addCacheData(paths.root);
    cache = observer.getRawCache(paths.root)!;
    dir = mkdtempSync(join(tmpdir(), 'shardline-console-'));
    fleet = new WorkerFleet({
      registryUrl: url,
      job: JOB,
      cache,
      logFile: join(dir, 'executions.jsonl'),
      // A one-off job: it runs only when triggered, so every run the page shows comes from the test.
      env: { FIXTURE_JOB: JOB, FIXTURE_CRON: '', FIXTURE_COUNT: String(COUNT), ITEM_MS: '50' },
    });
    await fleet.start('w1', 'w2');
    await awaitAssignment(cache, paths, ['w1', 'w2'], COUNT, SETTLE_MS, observer);
    consoleRegistry = createRegistryCenter(url);
    await consoleRegistry.init();
    server = await startConsoleServer({ registry: consoleRegistry, port: 0 });
    page = await chromium.browser.newPage();
  });

  after(async () => {
    await extra?.close();
    await server?.close();
    await chromium?.close();
    await fleet?.killAll();
    await consoleRegistry?.close();
    await observer?.close();
    await backend.stop();
    if (dir !== undefined) {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  afterEach(async () => {
    await extra?.close();
    extra = undefined;
  });

  const item = (n: number): ReturnType<Page['locator']> =>
    page.locator(`#items tr[data-item="${n}"]`);

  /** Resolves once the job page shows `owners` (item → instance id). */
  async function expectOwners(owners: readonly string[], timeout: number): Promise<void> {
    for (const [n, owner] of owners.entries()) {
      await item(n).locator('[data-col="owner"]', { hasText: owner }).waitFor({ timeout });
    }
  }

  /** Confirms the open confirmation dialog by keyboard: Cancel has the focus, Tab moves to Confirm. */
  async function confirmByKeyboard(): Promise<void> {
    await page.locator('dialog#confirm[open]').waitFor();
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
  }

  it('the job page lists every item with its owner', async () => {
    await page.goto(`${server!.url}#/jobs/${JOB}`);
    await expectOwners(['w1', 'w1', 'w2', 'w2'], LIVE_MS);
    expect(await page.locator('#items tbody tr').count()).to.equal(COUNT);
  });

  it('a trigger adds a history row for every item (the last runs kept in the registry)', async () => {
    await page.goto(`${server!.url}#/history?job=${JOB}`);
    await page.locator('main[data-view="history"]').waitFor();
    expect(await page.locator('#history tbody tr').count()).to.equal(0); // a one-off job, never run
    await page.goto(`${server!.url}#/jobs/${JOB}`);
    await page.getByRole('button', { name: 'Trigger', exact: true }).click();
    await page.getByRole('button', { name: 'Confirm' }).click();
    // The runs show on the job page without a reload, then as rows of the history view.
    for (let n = 0; n < COUNT; n++) {
      await item(n).locator('[data-status="succeeded"]').waitFor({ timeout: LIVE_MS });
    }
    await page.getByRole('link', { name: 'History', exact: true }).first().click();
    await page
      .locator('#history tbody tr')
      .nth(COUNT - 1)
      .waitFor({ timeout: LIVE_MS });
    const rows = await page.locator('#history tbody tr').allInnerTexts();
    expect(rows).to.have.length(COUNT);
    expect(
      rows.every(r => r.includes(JOB) && r.includes('manual') && r.includes('succeeded')),
    ).to.equal(true, rows.join('\n'));
  });

  it('disabling an item (by keyboard, after confirmation) shows DISABLED without a reload', async () => {
    await page.goto(`${server!.url}#/jobs/${JOB}`);
    await item(1).waitFor();
    await page.evaluate('window.notReloaded = true');
    const started = Date.now();
    await item(1).getByRole('button', { name: 'Disable item 1' }).focus();
    await page.keyboard.press('Enter');
    await confirmByKeyboard();
    await item(1)
      .locator('[data-col="status"] [data-status="DISABLED"]')
      .waitFor({ timeout: LIVE_MS });
    const shownMs = Date.now() - started;
    expect(await page.evaluate('window.notReloaded')).to.equal(true);
    expect(await observer!.isExisted(paths.itemDisabled(1))).to.equal(true);
    // The live refresh keeps the keyboard focus on the control that was used (now "Enable item 1").
    await item(1).getByRole('button', { name: 'Enable item 1' }).waitFor();
    console.log(`      (item DISABLED on the page ${shownMs} ms after the key press)`);
    await createOperations(observer!).enable(JOB, { item: 1 });
    await item(1).locator('[data-status="PENDING"]').waitFor({ timeout: LIVE_MS });
  });

  it('a configuration edit with an invalid cron shows the error next to the field', async () => {
    await page.goto(`${server!.url}#/jobs/${JOB}/config`);
    const cron = page.getByLabel('Cron');
    await cron.fill('61 * * * * *');
    await page.getByRole('button', { name: 'Save configuration' }).click();
    await page.getByRole('button', { name: 'Confirm' }).click();
    const error = page.locator('#err-cron');
    await error.filter({ hasText: 'cron' }).waitFor({ timeout: LIVE_MS });
    expect(await cron.getAttribute('aria-invalid')).to.equal('true');
    expect(await page.evaluate('document.activeElement.id')).to.equal('f-cron');
    const stored = JSON.parse((await observer!.getDirectly(paths.config))!) as { cron: unknown };
    expect(stored.cron).to.equal(null); // nothing written
  });

  it('read-only: no action on any page, and a POST is refused with 403', async () => {
    extra = await startConsoleServer({ registry: consoleRegistry!, port: 0, readOnly: true });
    for (const view of ['#/', `#/jobs/${JOB}`, '#/instances']) {
      await page.goto(`${extra.url}${view}`);
      await page.locator('main[data-view] table').waitFor();
      expect(await page.locator('main button').count(), view).to.equal(0);
    }
    expect(await page.getByRole('link', { name: 'Edit configuration' }).count()).to.equal(0);
    const res = await fetch(`${extra.url}api/jobs/${JOB}/trigger`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).to.equal(403);
  });

  it('with a token, a POST with a wrong or missing token gets 401 and changes nothing', async () => {
    extra = await startConsoleServer({ registry: consoleRegistry!, port: 0, token: 'right' });
    const post = (authorization?: string): Promise<Response> =>
      fetch(`${extra!.url}api/jobs/${JOB}/disable`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(authorization === undefined ? {} : { authorization }),
        },
        body: '{"item":0}',
      });
    expect((await post('Bearer wrong')).status).to.equal(401);
    expect((await post()).status).to.equal(401);
    expect(await observer!.isExisted(paths.itemDisabled(0))).to.equal(false);
    // The page asks for the token when an action is refused.
    await page.goto(`${extra.url}#/jobs/${JOB}`);
    await page.getByLabel('Console token (needed for actions)').waitFor();
  });

  it('shardline console serves the page on loopback with the token in the URL and stops on SIGTERM', async () => {
    const child = spawnNode(CLI_MAIN, ['console', '--registry', registryUrl, '--port', '0'], {
      SHARDLINE_CONSOLE_TOKEN: 's3cret',
    });
    try {
      const line = await child.lines.take(ms(20_000), 'the console line');
      const printed = { url: /console on (\S+) for /.exec(line)?.[1] ?? line };
      expect(printed.url).to.match(/^http:\/\/127\.0\.0\.1:\d+\/#token=s3cret$/);
      await page.goto(printed.url);
      await page.locator('#jobs tr[data-job="console-e2e"]').waitFor({ timeout: LIVE_MS });
      const res = await fetch(`${printed.url.replace(/#.*/, '')}api/jobs/${JOB}/trigger`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(res.status).to.equal(401);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await child.exited, child.stderr()).to.equal(0);
  });

  it('SIGKILL of a worker moves its items on the page within the session timeout + 2 s', async () => {
    await page.goto(`${server!.url}#/jobs/${JOB}`);
    await expectOwners(['w1', 'w1', 'w2', 'w2'], LIVE_MS).catch(async err => {
      throw new Error(`${String(err)}\n${await page.locator('main').innerText()}`);
    });
    const killedAt = Date.now();
    fleet!.latest('w2')!.sigkill();
    await expectOwners(['w1', 'w1', 'w1', 'w1'], ms(SESSION_MS + 2000));
    console.log(`      (items moved on the page ${Date.now() - killedAt} ms after the SIGKILL)`);
  });
});
