import { expect } from 'chai';
import { RegistryAuthError } from '../../lib/errors';
import { createRegistryCenter } from '../../lib/registry/create-registry-center';
import { killSpawned, runCli } from '../cli/cli-runner';
import { expectFailure } from '../cli/cli-suite';
import { uniqueNamespace } from '../harness/namespace';
import { ms } from '../harness/timing';
import { ZooKeeperServer } from '../harness/zookeeper-server';

/**
 * ZooKeeper credentials on a namespace created earlier without them: its root keeps the world:anyone ACL,
 * so credentials would protect nothing. init() refuses, naming the root, rather than appear protected.
 */
describe('ZooKeeper security: credentials on a namespace open to the world', function () {
  this.timeout(ms(30_000));
  let server: ZooKeeperServer | undefined;

  before(async function () {
    this.timeout(ms(60_000));
    server = await ZooKeeperServer.start();
  });

  afterEach(() => {
    killSpawned();
  });

  after(async () => {
    await server?.stop();
  });

  const url = (ns: string, credentials = ''): string =>
    `zookeeper://${credentials}${server?.connectString ?? ''}/${ns}?sessionTimeoutMs=2000`;

  it('init() with credentials fails with RegistryAuthError naming the open root; a new namespace is protected', async () => {
    const ns = uniqueNamespace('open');
    const anonymous = createRegistryCenter(url(ns));
    await anonymous.init();
    await anonymous.persist('/sync/config', '{}');
    await anonymous.close();

    const alice = createRegistryCenter(url(ns, 'alice:s3cret@'));
    const err = await alice.init().then(
      () => undefined,
      (e: unknown) => e,
    );
    await alice.close();
    expect(err).to.be.instanceOf(RegistryAuthError);
    expect((err as RegistryAuthError).path).to.equal(`/${ns}`);
    expect((err as Error).message).to.contain(`namespace root /${ns} is open to the world`);
    expect((err as Error).message).to.not.contain('s3cret');

    // A namespace created with the credentials is protected: an anonymous client may not write it.
    const fresh = uniqueNamespace('closed');
    const owner = createRegistryCenter(url(fresh, 'alice:s3cret@'));
    await owner.init();
    await owner.persist('/sync/config', '{}');
    const stranger = createRegistryCenter(url(fresh));
    await expect(stranger.init()).to.be.rejectedWith(RegistryAuthError);
    await stranger.close();
    await owner.close();
  });

  it('the CLI with credentials on the open namespace exits 1 with one line naming the root', async () => {
    const ns = uniqueNamespace('open');
    const anonymous = createRegistryCenter(url(ns));
    await anonymous.init();
    await anonymous.close();
    expectFailure(
      await runCli(['jobs'], { SHARDLINE_REGISTRY: url(ns, 'alice:s3cret@') }),
      1,
      new RegExp(`namespace root /${ns} is open to the world`),
    );
  });
});
