import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createConsoleHandler, type ConsoleHandler, type ConsoleOptions } from './console-handler';

/** Options of {@link startConsoleServer}: the handler's, plus where to listen. */
export interface ConsoleServerOptions extends Omit<ConsoleOptions, 'prefix'> {
  /** Default 127.0.0.1: the console is reachable from this machine only unless you say otherwise. */
  host?: string;
  /** Default 8899 (ElasticJob-UI's port); 0 picks a free one. */
  port?: number;
}

/** A console listening on its own HTTP server (what `shardline console` runs). */
export interface ConsoleServer {
  /** `http://host:port/` of the console. */
  readonly url: string;
  readonly handler: ConsoleHandler;
  /** Stops listening, ends the live streams and stops following the registry (which stays open). */
  close(): Promise<void>;
}

export const DEFAULT_CONSOLE_HOST = '127.0.0.1';
export const DEFAULT_CONSOLE_PORT = 8899;

/** Starts the console on `host:port`; resolves once it listens and follows the registry. */
export async function startConsoleServer(options: ConsoleServerOptions): Promise<ConsoleServer> {
  const handler = createConsoleHandler(options);
  const server: Server = createServer(handler);
  try {
    await handler.ready;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(
        options.port ?? DEFAULT_CONSOLE_PORT,
        options.host ?? DEFAULT_CONSOLE_HOST,
        () => {
          server.off('error', reject);
          resolve();
        },
      );
    });
  } catch (err) {
    await handler.close();
    throw err;
  }
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}/`,
    handler,
    close: async () => {
      await handler.close();
      await new Promise<void>(resolve => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
