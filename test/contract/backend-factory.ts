import type { DrivenRegistryCenter } from '../../lib/registry/driven-registry-center';

/** A client whose connection to the registry can be cut and restored (TCP proxy / memory hooks). */
export interface CuttableClient {
  registry: DrivenRegistryCenter;
  /** Cut the connection hard (connections reset, new ones refused). */
  cut(): void;
  /** Let traffic through again. */
  heal(): void;
  /** Close the registry and whatever carries the connection. */
  close(): Promise<void>;
}

/**
 * The seam between the contract suites and a backend: each backend test file builds one and
 * passes it to every `describe…Contract`. Every client a factory creates is tracked by the test that
 * created it and closed in its afterEach.
 */
export interface BackendFactory {
  name: 'memory' | 'zookeeper' | 'etcd';
  /** Session timeout / lease TTL of clients made by `create`, in ms; tests derive their deadlines from it. */
  sessionTimeoutMs: number;
  /** A new, not yet initialised client of `namespace`. */
  create(
    namespace: string,
    options?: { connectTimeoutMs?: number; requestTimeoutMs?: number },
  ): DrivenRegistryCenter;
  /** End the client's session at the server, as a server-side expiry would. */
  expireSession(registry: DrivenRegistryCenter): Promise<void>;
  /** A connected client of `namespace` behind a connection that can be cut. */
  createCuttable(namespace: string): Promise<CuttableClient>;
  /** SIGKILL the server and start it again on the same port and data (real servers only). */
  restartServer?(): Promise<void>;
}
