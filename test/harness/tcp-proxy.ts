import { connect, createServer, type Server, type Socket } from 'node:net';

export type ProxyMode = 'pass' | 'blackhole' | 'refuse';

/** One direction of a proxied connection. */
interface Direction {
  from: Socket;
  to: Socket;
  held: Buffer[];
  /** `from` half-closed while blackholed: forward the FIN when healed. */
  heldEnd: boolean;
}

interface Link {
  client: Socket;
  upstream: Socket;
  directions: [Direction, Direction];
  /** One side closed abruptly while blackholed: cut the other side when healed. */
  pendingCut: boolean;
}

/** Closes with RST where possible (a hard cut the peer sees as ECONNRESET), else plainly. */
function cut(socket: Socket): void {
  if (socket.destroyed) {
    return;
  }
  // resetAndDestroy() on a socket whose FIN was already sent (end()) makes Node spin at 100% CPU at process
  // exit (reproduced 10/10 with a 4-line script); a plain destroy() is the safe cut for such a socket.
  if (socket.writableEnded) {
    socket.destroy();
    return;
  }
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

/**
 * Fault-injection TCP proxy on 127.0.0.1 (in the manner of etcd3's test Proxy), for `dropConnection` and
 * partitions:
 * - 'pass': bytes and half-closes flow both ways.
 * - 'blackhole': a partition. Connections stay open and new ones are accepted, but bytes are held in both
 *   directions and closes are deferred; switching back to 'pass' flushes the held bytes in order (or applies the
 *   deferred close). Clients see silence, so they notice only via their own timeouts/heartbeats.
 * - 'refuse': a hard cut. Every live connection is reset now and new ones are reset on accept.
 */
export class TcpProxy {
  private mode: ProxyMode = 'pass';
  private readonly links = new Set<Link>();
  /** Callers of {@link idle} waiting for the last proxied connection to end. */
  private idleWaiters: (() => void)[] = [];
  private accepted = 0;
  readonly endpoint: string;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    readonly targetPort: number,
    readonly targetHost: string,
  ) {
    this.endpoint = `127.0.0.1:${port}`;
  }

  static start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    return new Promise((resolve, reject) => {
      let proxy: TcpProxy | undefined;
      const server = createServer({ allowHalfOpen: true }, client => proxy?.accept(client));
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        if (address === null || typeof address === 'string') {
          server.close();
          reject(new Error('TcpProxy: listen returned no TCP address'));
          return;
        }
        proxy = new TcpProxy(server, address.port, targetPort, targetHost);
        resolve(proxy);
      });
    });
  }

  /** Connections accepted since start, including ones reset at once in 'refuse' mode. */
  get connections(): number {
    return this.accepted;
  }

  /** Connections currently proxied. */
  get active(): number {
    return this.links.size;
  }

  /**
   * Resolves when no connection is proxied any more (at once when none is): e.g. after the server behind
   * was killed, the moment its client has seen the connection end — a request sent before that moment may
   * have been lost with the connection, one sent after it cannot use it.
   */
  idle(): Promise<void> {
    if (this.links.size === 0) {
      return Promise.resolve();
    }
    return new Promise(resolve => this.idleWaiters.push(resolve));
  }

  private unlink(link: Link): void {
    this.links.delete(link);
    if (this.links.size === 0) {
      this.idleWaiters.splice(0).forEach(wake => wake());
    }
  }

  get currentMode(): ProxyMode {
    return this.mode;
  }

  setMode(mode: ProxyMode): void {
    this.mode = mode;
    if (mode === 'refuse') {
      this.reset();
    } else if (mode === 'pass') {
      for (const link of [...this.links]) {
        this.heal(link);
      }
    }
  }

  /** Resets every live connection (held bytes are dropped); the mode is unchanged. */
  reset(): void {
    for (const link of [...this.links]) {
      this.drop(link);
    }
  }

  /** Resets every connection and stops listening. Idempotent. */
  close(): Promise<void> {
    this.reset();
    return new Promise(resolve => {
      if (!this.server.listening) {
        resolve();
        return;
      }
      this.server.close(() => resolve());
    });
  }

  private accept(client: Socket): void {
    this.accepted += 1;
    client.on('error', () => {});
    if (this.mode === 'refuse') {
      cut(client);
      return;
    }
    const upstream = connect({ port: this.targetPort, host: this.targetHost, allowHalfOpen: true });
    upstream.on('error', () => {});
    const link: Link = {
      client,
      upstream,
      directions: [
        { from: client, to: upstream, held: [], heldEnd: false },
        { from: upstream, to: client, held: [], heldEnd: false },
      ],
      pendingCut: false,
    };
    this.links.add(link);
    for (const dir of link.directions) {
      dir.from.on('data', (chunk: Buffer) => {
        if (this.mode === 'blackhole') {
          dir.held.push(chunk);
        } else {
          dir.to.write(chunk);
        }
      });
      // Half-close: forward the FIN (after the bytes written before it) unless partitioned.
      dir.from.on('end', () => {
        if (this.mode === 'blackhole') {
          dir.heldEnd = true;
        } else {
          dir.to.end();
        }
      });
      // Abrupt close (RST, or upstream refused): cut the other side too, unless partitioned. A clean close
      // needs nothing: its FIN was already forwarded (or held) by the 'end' handler.
      dir.from.on('close', hadError => {
        if (hadError) {
          if (this.mode === 'blackhole') {
            link.pendingCut = true;
          } else {
            this.drop(link);
          }
        }
        if (link.client.destroyed && link.upstream.destroyed) {
          this.unlink(link);
        }
      });
    }
  }

  /** Back to 'pass' for one link: deliver held bytes, then any deferred FIN or cut. */
  private heal(link: Link): void {
    for (const dir of link.directions) {
      for (const chunk of dir.held.splice(0)) {
        dir.to.write(chunk);
      }
      if (dir.heldEnd) {
        dir.heldEnd = false;
        dir.to.end();
      }
    }
    if (link.pendingCut) {
      this.drop(link);
    }
  }

  private drop(link: Link): void {
    cut(link.client);
    cut(link.upstream);
    this.unlink(link);
  }
}
