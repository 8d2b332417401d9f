import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegistryAuthError } from '../../lib/errors';
import { createRegistryCenter } from '../../lib/registry/create-registry-center';
import { killSpawned, runCli } from '../cli/cli-runner';
import { expectFailure } from '../cli/cli-suite';
import { EtcdServer } from '../harness/etcd-server';
import { TlsEtcdServer } from '../harness/etcd-tls';
import { uniqueNamespace } from '../harness/namespace';
import { spawnNode } from '../harness/process';
import { ms } from '../harness/timing';

/**
 * etcd security set-ups as operators meet them: authentication enabled but no credentials given, and
 * mutual TLS with a client certificate and no `ca` option (the server's CA is in gRPC's default roots).
 */
describe('etcd security', function () {
  this.timeout(ms(60_000));

  afterEach(() => {
    killSpawned();
  });

  describe('authentication enabled, no credentials given', () => {
    let server: EtcdServer | undefined;

    before(async function () {
      this.timeout(ms(60_000));
      server = await EtcdServer.start();
      await server.enableAuth('rootpw', { name: 'shard', password: 'good' });
    });

    after(async () => {
      await server?.stop();
    });

    const url = (): string => `etcd://${server?.endpoint ?? ''}/${uniqueNamespace('auth')}`;

    it('init() fails with RegistryAuthError "etcd requires authentication", not a raw gRPC text', async () => {
      const registry = createRegistryCenter(`${url()}?connectTimeoutMs=3000`);
      const err = await registry.init().then(
        () => undefined,
        (e: unknown) => e,
      );
      await registry.close();
      expect(err).to.be.instanceOf(RegistryAuthError);
      expect((err as Error).message).to.match(/etcd requires authentication/);
      expect((err as Error).message).to.not.match(/INVALID_ARGUMENT|user name is empty/);
    });

    it('the CLI exits 1 (not the usage code 2) with one line saying so', async () => {
      expectFailure(
        await runCli(['jobs', '--registry', url()]),
        1,
        /^shardline: etcd:\/\/\S+: etcd requires authentication/,
      );
    });

    it('with the credentials in the URL it connects', async () => {
      const registry = createRegistryCenter(
        url().replace('etcd://', 'etcd://shard:good@') + '?connectTimeoutMs=3000',
      );
      await registry.init();
      await registry.persist('/a', 'x');
      expect(await registry.getDirectly('/a')).to.equal('x');
      await registry.close();
    });
  });

  it('tls with cert and key but no ca uses the client certificate (server CA trusted by the default roots)', async () => {
    const server = await TlsEtcdServer.start();
    const dir = mkdtempSync(join(tmpdir(), 'shardline-tls-client-'));
    try {
      const file = (name: string, content: string): string => {
        writeFileSync(join(dir, name), content);
        return join(dir, name);
      };
      const ca = file('ca.crt', server.tls.ca);
      const cert = file('client.crt', server.tls.clientCert);
      const key = file('client.key', server.tls.clientKey);
      const child = spawnNode(
        join(__dirname, '..', 'fixtures', 'etcd-tls-client.ts'),
        [server.endpoint, uniqueNamespace('tls'), cert, key],
        { GRPC_DEFAULT_SSL_ROOTS_FILE_PATH: ca },
      );
      const line = await child.lines.take(ms(40_000), 'the TLS client to report');
      expect(line, child.stderr()).to.equal('OK client-cert');
      expect(await child.exited).to.equal(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await server.stop();
    }
  });
});
