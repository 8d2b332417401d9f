// The real-server harness: ZooKeeper and etcd start, answer their readiness probes, come back on the same
// port with the same data after a kill, and are really gone (by PID) after stop().
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { inspect } from 'node:util';
import { expect } from 'chai';
import { Etcd3 } from 'etcd3';
import { createClient, type Client } from 'node-zookeeper-client';
import { EtcdServer } from './harness/etcd-server';
import { ZooKeeperServer } from './harness/zookeeper-server';
import { ms } from './harness/timing';

function expectGone(pid: number): void {
  expect(() => process.kill(pid, 0)).to.throw(/ESRCH/);
}

/** Connects a raw node-zookeeper-client and resolves once it is connected. */
async function zkConnect(connectString: string, sessionTimeout: number): Promise<Client> {
  const client = createClient(connectString, { sessionTimeout, retries: 0 });
  const connected = new Promise<void>(resolve => client.once('connected', () => resolve()));
  client.connect();
  await connected;
  return client;
}

/** Promisifies one node-zookeeper-client call (its errors are `Exception`s, not typed as `Error`). */
function zkCall<T>(fn: (cb: (err: unknown, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) =>
    fn((err, value) => {
      if (err) {
        reject(err instanceof Error ? err : new Error(inspect(err)));
      } else {
        resolve(value);
      }
    }),
  );
}

describe('harness: real servers', function () {
  this.timeout(ms(30_000));

  describe('ZooKeeperServer', () => {
    let zk: ZooKeeperServer;
    let client: Client | undefined;

    before(async () => {
      zk = await ZooKeeperServer.start({ tickTimeMs: 500 });
    });

    afterEach(() => {
      client?.close();
      client = undefined;
    });

    after(async () => {
      await zk?.stop();
    });

    it('answers ruok and runs the generated config', async () => {
      expect(zk.connectString).to.equal(`127.0.0.1:${zk.port}`);
      expect(await zk.command('ruok')).to.equal('imok');
      const conf = await zk.command('conf');
      expect(conf)
        .to.include('tickTime=500')
        .and.include('minSessionTimeout=1000')
        .and.include('maxSessionTimeout=60000');
    });

    it('clamps a too-short session timeout to 2 × tick', async () => {
      client = await zkConnect(zk.connectString, 200);
      expect(client.getSessionTimeout()).to.equal(1000);
    });

    it('restarts on the same port with the same data', async () => {
      client = await zkConnect(zk.connectString, 2000);
      const c = client;
      await zkCall<string>(cb => c.create('/harness-restart', Buffer.from('kept'), cb));
      c.close();
      client = undefined;

      const oldPid = zk.pid;
      await zk.kill();
      expectGone(oldPid);
      await zk.restart();
      expect(zk.pid).to.not.equal(oldPid);
      expect(await zk.command('ruok')).to.equal('imok');

      client = await zkConnect(zk.connectString, 2000);
      const c2 = client;
      const data = await zkCall<Buffer>(cb =>
        c2.getData('/harness-restart', (err, value) => cb(err, value)),
      );
      expect(data.toString()).to.equal('kept');
    });

    it('pause() silences the server and resume() brings it back', async () => {
      await zk.pause();
      await expect(zk.command('ruok')).to.be.rejectedWith(/no reply/);
      await zk.resume();
      expect(await zk.command('ruok')).to.equal('imok');
    });

    it('stop() kills the PID and removes the temp dir', async () => {
      const pid = zk.pid;
      const dir = dirname(zk.logFile);
      await zk.stop();
      expectGone(pid);
      expect(existsSync(dir)).to.equal(false);
      await zk.stop(); // idempotent
    });
  });

  describe('EtcdServer', () => {
    let etcd: EtcdServer;

    before(async () => {
      etcd = await EtcdServer.start();
    });

    after(async () => {
      await etcd?.stop();
    });

    it('reports health and runs etcdctl', async () => {
      expect(etcd.endpoint).to.equal(`127.0.0.1:${etcd.clientPort}`);
      const health = await fetch(`http://${etcd.endpoint}/health`);
      expect(await health.json()).to.deep.equal({ health: 'true' });
      expect(await etcd.etcdctl(['put', '/harness/a', '1'])).to.include('OK');
    });

    it('restarts on the same port with the same data, then compacts', async () => {
      const oldPid = etcd.pid;
      await etcd.kill();
      expectGone(oldPid);
      await etcd.restart();
      expect(await etcd.etcdctl(['get', '/harness/a', '--print-value-only'])).to.equal('1\n');
      const revision = await etcd.compact();
      expect(revision).to.be.greaterThan(1);
      await expect(etcd.etcdctl(['get', '/harness/a', `--rev=${revision - 1}`])).to.be.rejectedWith(
        /compacted/,
      );
    });

    it('enableAuth() restricts a user to its prefix', async () => {
      await etcd.enableAuth('rootpw', { name: 'alice', password: 'alicepw', prefix: '/app/' });
      const alice = new Etcd3({
        hosts: `http://${etcd.endpoint}`,
        auth: { username: 'alice', password: 'alicepw' },
      });
      const anonymous = new Etcd3({ hosts: `http://${etcd.endpoint}` });
      try {
        await alice.put('/app/x').value('1');
        await expect(alice.put('/other').value('1')).to.be.rejectedWith(/permission denied/);
        await expect(anonymous.get('/app/x').string()).to.be.rejectedWith(/user name is empty/);
      } finally {
        alice.close();
        anonymous.close();
      }
      // etcdctl now authenticates as root.
      expect(await etcd.etcdctl(['get', '/app/x', '--print-value-only'])).to.equal('1\n');
    });

    it('stop() kills the PID', async () => {
      const pid = etcd.pid;
      await etcd.stop();
      expectGone(pid);
    });
  });
});
