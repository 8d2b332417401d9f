// Fast checks of the test harness itself: the fault-injection proxy (against a plain echo server) and the
// event queue that every sequence assertion relies on.
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { collect, EventQueue, waitFor } from '../harness/events';
import { uniqueNamespace } from '../harness/namespace';
import { spawnNode } from '../harness/process';
import { TcpProxy } from '../harness/tcp-proxy';
import { ms } from '../harness/timing';

/** What the echo server observed, in order. */
type ServerEvent = { kind: 'data'; text: string } | { kind: 'end' } | { kind: 'close' };

/** Echo server: writes back every chunk, answers a FIN with a FIN, and reports what it saw. */
async function startEcho(): Promise<{
  server: Server;
  port: number;
  events: EventQueue<ServerEvent>;
}> {
  const events = new EventQueue<ServerEvent>();
  const server = createServer({ allowHalfOpen: true }, socket => {
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      events.push({ kind: 'data', text });
      socket.write(text);
    });
    socket.on('end', () => {
      events.push({ kind: 'end' });
      socket.end();
    });
    socket.on('error', () => {});
    socket.on('close', () => events.push({ kind: 'close' }));
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') {
    throw new Error('no address');
  }
  return { server, port: address.port, events };
}

type ClientEvent =
  { kind: 'data'; text: string } | { kind: 'end' } | { kind: 'close'; hadError: boolean };

/** A client socket whose data/end/close are queued. */
async function dial(port: number): Promise<{ socket: Socket; events: EventQueue<ClientEvent> }> {
  const events = new EventQueue<ClientEvent>();
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  socket.setEncoding('utf8');
  socket.on('data', (text: string) => events.push({ kind: 'data', text }));
  socket.on('end', () => events.push({ kind: 'end' }));
  socket.on('error', () => {});
  socket.on('close', hadError => events.push({ kind: 'close', hadError }));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, events };
}

/** Asserts that nothing arrives within a short window (absence has no event to await). */
async function expectQuiet<T>(queue: EventQueue<T>, what: string): Promise<void> {
  await expect(queue.take(ms(150), what)).to.be.rejectedWith(/timed out/);
}

describe('harness: TcpProxy', () => {
  let echo: Awaited<ReturnType<typeof startEcho>>;
  let proxy: TcpProxy;
  const sockets: Socket[] = [];

  beforeEach(async () => {
    echo = await startEcho();
    proxy = await TcpProxy.start(echo.port);
  });

  afterEach(async () => {
    sockets.splice(0).forEach(s => s.destroy());
    await proxy.close();
    await new Promise<void>(resolve => echo.server.close(() => resolve()));
  });

  async function dialProxy(): Promise<Awaited<ReturnType<typeof dial>>> {
    const client = await dial(proxy.port);
    sockets.push(client.socket);
    return client;
  }

  it('passes bytes and half-closes both ways and counts connections', async () => {
    expect(proxy.endpoint).to.equal(`127.0.0.1:${proxy.port}`);
    const { socket, events } = await dialProxy();
    socket.write('hello');
    expect(await events.take(ms(2000), 'echo')).to.deep.equal({ kind: 'data', text: 'hello' });
    socket.end();
    expect(await echo.events.takeUntil(e => e.kind === 'end', ms(2000))).to.deep.include({
      kind: 'end',
    });
    expect(await events.take(ms(2000), 'FIN back')).to.deep.equal({ kind: 'end' });
    expect(proxy.connections).to.equal(1);
  });

  it('blackhole holds bytes both ways and flushes them in order on pass', async () => {
    const { socket, events } = await dialProxy();
    socket.write('a');
    await events.take(ms(2000), 'echo of a');
    await echo.events.take(ms(2000), 'a at the server');

    proxy.setMode('blackhole');
    socket.write('b');
    socket.write('c');
    await expectQuiet(echo.events, 'nothing at the server while partitioned');

    proxy.setMode('pass');
    const received = await echo.events.takeUntil(
      e => e.kind === 'data' && e.text.endsWith('c'),
      ms(2000),
    );
    expect(received.map(e => (e.kind === 'data' ? e.text : e.kind)).join('')).to.equal('bc');
    const echoed = await events.takeUntil(e => e.kind === 'data' && e.text.endsWith('c'), ms(2000));
    expect(echoed.map(e => (e.kind === 'data' ? e.text : e.kind)).join('')).to.equal('bc');
  });

  it('blackhole defers a close until healed', async () => {
    const { socket } = await dialProxy();
    proxy.setMode('blackhole');
    socket.end();
    await expectQuiet(echo.events, 'no FIN at the server while partitioned');
    proxy.setMode('pass');
    expect(await echo.events.take(ms(2000), 'deferred FIN')).to.deep.equal({ kind: 'end' });
  });

  it('refuse cuts live connections and resets new ones', async () => {
    const live = await dialProxy();
    proxy.setMode('refuse');
    expect(
      await live.events.takeUntil(e => e.kind === 'close', ms(2000), 'hard cut'),
    ).to.have.length.greaterThan(0);
    expect(proxy.active).to.equal(0);

    // The RST can beat the connect callback (connect then fails with ECONNRESET), so watch the raw socket.
    const refused = connect(proxy.port, '127.0.0.1');
    sockets.push(refused);
    const refusedEvents = new EventQueue<string>();
    refused.on('data', () => refusedEvents.push('data'));
    refused.on('error', (err: NodeJS.ErrnoException) => refusedEvents.push(err.code ?? 'error'));
    refused.on('close', () => refusedEvents.push('close'));
    const seen = await refusedEvents.takeUntil(e => e === 'close', ms(2000), 'reset on accept');
    expect(seen).to.include('ECONNRESET').and.not.include('data');
    expect(proxy.connections).to.equal(2);
    expect(echo.events.seen.filter(e => e.kind === 'data')).to.deep.equal([]);

    proxy.setMode('pass');
    const again = await dialProxy();
    again.socket.write('back');
    expect(await again.events.take(ms(2000), 'echo after refuse')).to.deep.equal({
      kind: 'data',
      text: 'back',
    });
  });

  it('reset() drops live connections but keeps accepting', async () => {
    const first = await dialProxy();
    proxy.reset();
    await first.events.takeUntil(e => e.kind === 'close', ms(2000), 'close after reset');
    const second = await dialProxy();
    second.socket.write('ok');
    expect(await second.events.take(ms(2000), 'echo after reset')).to.deep.equal({
      kind: 'data',
      text: 'ok',
    });
  });

  it('idle() resolves once the last proxied connection has ended on both sides', async () => {
    await proxy.idle(); // none yet: at once
    const client = await dialProxy();
    let idle = false;
    const idled = proxy.idle().then(() => (idle = true));
    client.socket.write('ping');
    await client.events.take(ms(2000), 'echo'); // a round trip through the live link
    expect(idle, 'idle while a connection is proxied').to.equal(false);
    client.socket.end(); // the echo answers the FIN with its own: both sides end cleanly
    await client.events.takeUntil(e => e.kind === 'close', ms(2000), 'client close');
    await idled;
    expect(proxy.active).to.equal(0);
  });

  it('close() stops listening', async () => {
    await proxy.close();
    await expect(dial(proxy.port)).to.be.rejectedWith(/ECONNREFUSED/);
  });
});

describe('harness: EventQueue', () => {
  it('hands out buffered and later events in order, undefined included', async () => {
    const q = new EventQueue<string | undefined>();
    q.push('a');
    q.push(undefined);
    expect(await q.take(ms(1000))).to.equal('a');
    expect(await q.take(ms(1000))).to.equal(undefined);
    // A take that is already waiting receives the next push.
    const next = q.take(ms(1000));
    q.push('b');
    expect(await next).to.equal('b');
    expect(q.seen).to.deep.equal(['a', undefined, 'b']);
  });

  it('rejects a timed-out take naming what was awaited and what was seen', async () => {
    const q = new EventQueue<string>();
    q.push('CONNECTED');
    await q.take(ms(1000));
    await expect(q.take(20, 'EXPIRED')).to.be.rejectedWith(/EXPIRED.*'CONNECTED'/);
    q.push('late');
    expect(q.pending).to.deep.equal(['late']); // the timed-out take did not swallow it
  });

  it('takeUntil returns everything up to the first match', async () => {
    const q = new EventQueue<number>();
    [1, 2, 3, 4].forEach(n => q.push(n));
    expect(await q.takeUntil(n => n === 3, ms(1000))).to.deep.equal([1, 2, 3]);
    expect(await q.take(ms(1000))).to.equal(4);
  });

  it('collect() queues emitter events and dispose() stops it', async () => {
    const emitter = new EventEmitter();
    const q = collect<string>(emitter, 'state');
    emitter.emit('state', 'SUSPENDED');
    expect(await q.take(ms(1000))).to.equal('SUSPENDED');
    q.dispose();
    expect(emitter.listenerCount('state')).to.equal(0);
  });

  it('waitFor polls external state and fails fast on a throwing predicate', async () => {
    let calls = 0;
    await waitFor(() => ++calls === 3, ms(1000), 'third call', 1);
    expect(calls).to.equal(3);
    await expect(waitFor(() => false, 30, 'never')).to.be.rejectedWith(/never/);
    await expect(
      waitFor(
        () => {
          throw new Error('server died');
        },
        ms(1000),
        'x',
      ),
    ).to.be.rejectedWith('server died');
  });

  it('uniqueNamespace is unique and path-safe', () => {
    const names = new Set(Array.from({ length: 100 }, () => uniqueNamespace()));
    expect(names.size).to.equal(100);
    for (const name of names) {
      expect(name).to.match(/^t[a-z0-9-]+$/);
    }
  });
});

describe('harness: spawnNode', () => {
  let dir: string;

  before(() => {
    // Outside the repo on purpose: the tsx loader must be found whatever the script's location.
    dir = mkdtempSync(join(tmpdir(), 'shardline-spawn-'));
    writeFileSync(
      join(dir, 'worker.ts'),
      [
        "const mode: string = process.argv[2] ?? '';",
        "console.log('ready ' + mode);",
        "if (mode === 'exit') { console.log('bye'); process.exit(7); }",
        'setInterval(() => {}, 1000);',
      ].join('\n'),
    );
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs a TypeScript file, queues its stdout lines and reports the exit code', async () => {
    const child = spawnNode(join(dir, 'worker.ts'), ['exit']);
    expect(await child.lines.take(ms(5000), 'ready line')).to.equal('ready exit');
    expect(await child.exited).to.equal(7);
    expect(child.lines.seen).to.deep.equal(['ready exit', 'bye']);
  });

  it('kill() ends a running worker (exit code null for a signal)', async () => {
    const child = spawnNode(join(dir, 'worker.ts'), ['wait']);
    await child.lines.take(ms(5000), 'ready line');
    child.kill('SIGKILL');
    expect(await child.exited).to.equal(null);
    expect(() => process.kill(child.pid, 0)).to.throw(/ESRCH/);
  });
});
