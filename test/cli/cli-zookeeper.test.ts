import { ZooKeeperServer } from '../harness/zookeeper-server';
import { describeCliSuite } from './cli-suite';

/** The CLI against a real ZooKeeper started for this file. */
describe('CLI on ZooKeeper', function () {
  this.timeout(30_000);
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
