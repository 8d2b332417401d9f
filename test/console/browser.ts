import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserServer } from 'playwright-core';
import { awaitExit, trackChild } from '../harness/process';

/** Debian's Chromium (`apt-get install -y chromium`); `CHROMIUM_PATH` overrides it. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * A headless Chromium for the console's browser tests, driven by playwright-core. The browser process is
 * started as a server so that its PID is ours: `close()` ends it and, if it is still there, SIGKILLs it by
 * PID (and the harness kills it at exit if a run is interrupted).
 */
export class HeadlessChromium {
  private constructor(
    private readonly server: BrowserServer,
    readonly browser: Browser,
  ) {}

  static async launch(): Promise<HeadlessChromium> {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `the console's browser tests need Chromium at ${CHROMIUM}: apt-get install -y chromium ` +
          '(or set CHROMIUM_PATH)',
      );
    }
    const server = await chromium.launchServer({
      executablePath: CHROMIUM,
      headless: true,
      // Chromium refuses to run as root with its sandbox.
      args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
    });
    trackChild(server.process());
    try {
      return new HeadlessChromium(server, await chromium.connect(server.wsEndpoint()));
    } catch (err) {
      await server.kill();
      throw err;
    }
  }

  get pid(): number | undefined {
    return this.server.process().pid;
  }

  async close(): Promise<void> {
    await this.browser.close().catch(() => undefined);
    await this.server.close().catch(() => undefined);
    const child = this.server.process();
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      process.kill(child.pid, 'SIGKILL');
    }
    await awaitExit(child);
  }
}
