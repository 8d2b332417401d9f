import { TcpProxy, type ProxyMode } from './tcp-proxy';

/** One server of a multi-node registry, with the per-node faults the topology tests inject. */
export interface ClusterMember {
  /** `zk1`…, `etcd1`…: for messages. */
  readonly name: string;
  /** `127.0.0.1:<client port>`. */
  readonly endpoint: string;
  readonly clientPort: number;
  readonly pid: number;
  readonly isRunning: boolean;
  /** SIGKILL, keeping the data dir. */
  kill(): Promise<void>;
  /** Start again with the same data dir and ports; resolves once the member serves (has joined a quorum). */
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT. */
  pause(): Promise<void>;
  resume(): Promise<void>;
}

/** A 3-node ZooKeeper ensemble or a 3-member etcd cluster, started and stopped by the harness. */
export interface RegistryCluster {
  readonly kind: 'ZooKeeper' | 'etcd';
  readonly members: readonly ClusterMember[];
  /** The member that leads now (ZooKeeper leader / etcd raft leader), awaiting an election in progress. */
  leader(timeoutMs?: number): Promise<ClusterMember>;
  /** Resolves once every running member serves again. */
  awaitQuorum(timeoutMs?: number): Promise<void>;
  /**
   * A multi-host registry URL of `namespace` (session timeout / lease TTL `sessionMs`), over the members'
   * own endpoints or over `endpoints` (e.g. a worker's proxies), in the order given.
   */
  url(namespace: string, sessionMs: number, endpoints?: readonly string[]): string;
  stop(): Promise<void>;
}

/**
 * One client's private links to every member: a TcpProxy in front of each server, so that this client's link
 * to one server (or to all) can be cut ('refuse'), or held silent and released later ('blackhole': a
 * partition, or a delay as long as the hold), while every other client keeps its direct links.
 */
export class ClientLinks {
  private constructor(
    readonly proxies: readonly TcpProxy[],
    private readonly members: readonly ClusterMember[],
  ) {}

  static async open(cluster: RegistryCluster): Promise<ClientLinks> {
    const proxies = await Promise.all(cluster.members.map(m => TcpProxy.start(m.clientPort)));
    return new ClientLinks(proxies, cluster.members);
  }

  /** The proxies' endpoints, in member order: what goes into this client's URL. */
  get endpoints(): string[] {
    return this.proxies.map(p => p.endpoint);
  }

  /** Members this client has a live connection to now (through its proxies). */
  connectedMembers(): ClusterMember[] {
    return this.members.filter((_, i) => (this.proxies[i]?.active ?? 0) > 0);
  }

  /** Sets the mode of the link to `member` (by index); every link when `member` is omitted. */
  set(mode: ProxyMode, member?: number): void {
    this.proxies.forEach((p, i) => {
      if (member === undefined || member === i) {
        p.setMode(mode);
      }
    });
  }

  close(): Promise<void> {
    return Promise.all(this.proxies.map(p => p.close())).then(() => undefined);
  }
}

/**
 * Undoes every server fault: SIGCONT for each running member (harmless when it was not stopped), a restart
 * for each killed one, then waits for the quorum. For afterEach hooks, so one failed test does not leave the
 * next one without a quorum.
 */
export async function healCluster(cluster: RegistryCluster): Promise<void> {
  await Promise.all(cluster.members.map(m => (m.isRunning ? m.resume() : m.restart())));
  await cluster.awaitQuorum();
}
