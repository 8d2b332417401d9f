import { EtcdServer } from '../harness/etcd-server';
import { describeCliSuite } from './cli-suite';

/** The CLI against a real etcd started for this file. */
describe('CLI on etcd', function () {
  this.timeout(30_000);
  let server: EtcdServer | undefined;

  before(async function () {
    this.timeout(60_000);
    server = await EtcdServer.start();
  });

  after(async () => {
    await server?.stop();
  });

  describeCliSuite(() => ({
    url: ns => {
      if (server === undefined) {
        throw new Error('etcd is not running');
      }
      return `etcd://${server.endpoint}/${ns}?leaseTtlSeconds=2`;
    },
  }));
});
