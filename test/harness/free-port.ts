import { createServer } from 'node:net';

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (listen on 0, read the port, close).
 * Another process can take it before the caller binds it; the server harnesses retry on a fresh port when the
 * first bind fails, so this race costs a retry, not a failed test.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('freePort: listen(0) returned no TCP address'));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}
