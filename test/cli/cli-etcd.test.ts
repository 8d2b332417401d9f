import { EtcdServer } from '../harness/etcd-server';
import { ms } from '../harness/timing';
import { describeCliSuite } from './cli-suite';

/** The CLI against a real etcd started for this file. */
describe('CLI on etcd', function () {
  // Each case runs the CLI as child processes (tsx start-up each); a loaded machine makes a case with
  // several of them take a minute, so this is a ceiling, not an expected duration.
  this.timeout(ms(120_000));
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
