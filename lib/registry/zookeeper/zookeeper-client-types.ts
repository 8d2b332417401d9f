import * as zkLib from 'node-zookeeper-client';

/**
 * Local, accurate declarations of the parts of node-zookeeper-client@1.1.3 we use.
 *
 * `@types/node-zookeeper-client` is wrong in several places (missing `CREATOR_ALL_ACL`, `ACL.perms` instead
 * of `permission`, non-null `exists` stat, `any` commit results), so the module is re-typed here once and
 * only these types are used by the backend. Nothing here is exported beyond `lib/registry/zookeeper/`.
 *
 * Only the public API is declared here. The private members the backend needs (the connection manager,
 * for reconnect control, framing and own requests) are declared and used in `wire/` alone (wire/library.ts),
 * which checks the installed version before touching them.
 */

/** Server error codes (KeeperException.Code), including those the library does not know. */
export const ZkCode = {
  OK: 0,
  SYSTEM_ERROR: -1,
  RUNTIME_INCONSISTENCY: -2,
  DATA_INCONSISTENCY: -3,
  CONNECTION_LOSS: -4,
  MARSHALLING_ERROR: -5,
  UNIMPLEMENTED: -6,
  OPERATION_TIMEOUT: -7,
  BAD_ARGUMENTS: -8,
  UNKNOWN_SESSION: -12,
  NEW_CONFIG_NO_QUORUM: -13,
  RECONFIG_IN_PROGRESS: -14,
  API_ERROR: -100,
  NO_NODE: -101,
  NO_AUTH: -102,
  BAD_VERSION: -103,
  NO_CHILDREN_FOR_EPHEMERALS: -108,
  NODE_EXISTS: -110,
  NOT_EMPTY: -111,
  SESSION_EXPIRED: -112,
  INVALID_CALLBACK: -113,
  INVALID_ACL: -114,
  AUTH_FAILED: -115,
  SESSION_MOVED: -118,
  NOT_READ_ONLY: -119,
  EPHEMERAL_ON_LOCAL_SESSION: -120,
  NO_WATCHER: -121,
  REQUEST_TIMEOUT: -122,
  RECONFIG_DISABLED: -123,
  SESSION_CLOSED_REQUIRE_SASL_AUTH: -124,
  QUOTA_EXCEEDED: -125,
  THROTTLED_OP: -127,
} as const;

/** Name of a server error code, `UNKNOWN_<code>` for codes ZooKeeper 3.9 does not define either. */
export function zkCodeName(code: number): string {
  for (const [name, value] of Object.entries(ZkCode)) {
    if (value === code) {
      return name;
    }
  }
  return `UNKNOWN_${code}`;
}

export const ZkCreateMode = {
  PERSISTENT: 0,
  EPHEMERAL: 1,
  PERSISTENT_SEQUENTIAL: 2,
  EPHEMERAL_SEQUENTIAL: 3,
} as const;

export const ZkEventType = {
  NODE_CREATED: 1,
  NODE_DELETED: 2,
  NODE_DATA_CHANGED: 3,
  NODE_CHILDREN_CHANGED: 4,
} as const;

/** Multi op codes as they appear in commit results. */
export const ZkOpCode = {
  CREATE: 1,
  DELETE: 2,
  SET_DATA: 5,
  CHECK: 13,
  ERROR: -1,
} as const;

export interface ZkStat {
  czxid: Buffer;
  mzxid: Buffer;
  ctime: Buffer;
  mtime: Buffer;
  version: number;
  cversion: number;
  aversion: number;
  ephemeralOwner: Buffer;
  dataLength: number;
  numChildren: number;
  pzxid: Buffer;
}

export interface ZkException extends Error {
  code: number;
  path: string | undefined;
  getCode(): number;
}

export interface ZkEvent {
  type: number;
  name: string;
  path: string;
}

export type ZkWatcher = (event: ZkEvent) => void;

export interface ZkId {
  scheme: string;
  id: string;
}

export interface ZkAcl {
  permission: number;
  id: ZkId;
}

export type ZkCallback<T> = (error: ZkException | Error | null, result: T) => void;

export interface ZkMultiResult {
  type: number;
  err?: number;
  path?: string;
  stat?: ZkStat;
}

export interface ZkTransaction {
  ops: Array<{ type: number; path: string; version?: number }>;
  create(path: string, data: Buffer, acls: ZkAcl[], mode: number): this;
  check(path: string, version?: number): this;
  setData(path: string, data: Buffer, version?: number): this;
  remove(path: string, version?: number): this;
  commit(
    callback: (error: ZkException | Error | null, results: ZkMultiResult[] | undefined) => void,
  ): void;
}

export interface ZkState {
  name: string;
  code: number;
}

export type ZkClientEvent =
  'connected' | 'disconnected' | 'expired' | 'authenticationFailed' | 'connectedReadOnly';

export interface ZkClient {
  connect(): void;
  close(): void;
  on(event: ZkClientEvent, listener: () => void): this;
  getState(): ZkState;
  getSessionId(): Buffer;
  getSessionPassword(): Buffer;
  getSessionTimeout(): number;
  addAuthInfo(scheme: string, auth: Buffer): void;
  create(
    path: string,
    data: Buffer,
    acls: ZkAcl[],
    mode: number,
    callback: ZkCallback<string>,
  ): void;
  remove(
    path: string,
    version: number,
    callback: (error: ZkException | Error | null) => void,
  ): void;
  exists(path: string, watcher: ZkWatcher | undefined, callback: ZkCallback<ZkStat | null>): void;
  getData(
    path: string,
    watcher: ZkWatcher | undefined,
    callback: (
      error: ZkException | Error | null,
      data: Buffer | null | undefined,
      stat: ZkStat,
    ) => void,
  ): void;
  setData(path: string, data: Buffer, version: number, callback: ZkCallback<ZkStat>): void;
  getChildren(
    path: string,
    watcher: ZkWatcher | undefined,
    callback: (error: ZkException | Error | null, children: string[], stat: ZkStat) => void,
  ): void;
  getACL(
    path: string,
    callback: (error: ZkException | Error | null, acls: ZkAcl[], stat: ZkStat) => void,
  ): void;
  transaction(): ZkTransaction;
}

export interface ZkClientOptions {
  sessionTimeout: number;
  spinDelay: number;
  retries: number;
  sessionId?: Buffer;
  sessionPassword?: Buffer;
}

export interface ZkExceptionModule {
  create(code: number, path?: string): ZkException;
}

export interface ZkModule {
  createClient(connectionString: string, options: ZkClientOptions): ZkClient;
  ACL: {
    new (permission: number, id: ZkId): ZkAcl;
    OPEN_ACL_UNSAFE: ZkAcl[];
    CREATOR_ALL_ACL: ZkAcl[];
  };
  Id: new (scheme: string, id: string) => ZkId;
  Permission: {
    READ: number;
    WRITE: number;
    CREATE: number;
    DELETE: number;
    ADMIN: number;
    ALL: number;
  };
  State: { DISCONNECTED: ZkState; SYNC_CONNECTED: ZkState; AUTH_FAILED: ZkState; EXPIRED: ZkState };
  Exception: ZkExceptionModule;
}

/** The library, re-typed. */
export const zk: ZkModule = zkLib as unknown as ZkModule;

export function isZkException(err: unknown): err is ZkException {
  return err instanceof Error && typeof (err as Partial<ZkException>).code === 'number';
}
