import { ZooKeeperServer } from '../harness/zookeeper-server';
import { ms } from '../harness/timing';
import { describeCliSuite } from './cli-suite';

/** The CLI against a real ZooKeeper started for this file. */
describe('CLI on ZooKeeper', function () {
  // Each case runs the CLI as child processes (tsx start-up each); a loaded machine makes a case with
  // several of them take a minute, so this is a ceiling, not an expected duration.
  this.timeout(ms(120_000));
  let server: ZooKeeperServer | undefined;

  before(async function () {
    this.timeout(60_000);
    server = await ZooKeeperServer.start();
  });

  after(async () => {
    await server?.stop();
  });

  describeCliSuite(() => ({
    url: ns => {
      if (server === undefined) {
        throw new Error('ZooKeeper is not running');
      }
      return `zookeeper://${server.connectString}/${ns}?sessionTimeoutMs=2000`;
    },
  }));
});
