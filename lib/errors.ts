/**
 * Every error Shardline throws derives from {@link ShardlineError}: one base class with a stable `code`, a
 * `retryable` flag, the registry `path` involved (when there is one) and the ES2022 `cause`. Below it, three
 * branches say whose fault it is, so that a filter on a branch catches exactly that kind of failure:
 *
 * ```
 * ShardlineError
 * ├── CoordinationError   the registry or a coordination protocol failed or refused: NoNode, NodeExists,
 * │                       BadVersion, NotEmpty, InvalidPath, InvalidArgument, ConnectionLoss,
 * │                       OperationTimeout, SessionExpired, Transaction, NotLeader, LeadershipLost,
 * │                       LockTimeout, Closed, RegistryConnection, RegistryAuth, PermissionDenied,
 * │                       CorruptedData, System, OwnershipLost, InstanceIdConflict
 * ├── JobError            a job failed or an operation on a job was refused, with the registry working:
 * │                       JobExecution, UnknownJob, RegistryCommandRefused, and (ops) JobInUse, NotAJob
 * └── ConfigurationError  options or a job definition that cannot be used (registry centre or job);
 *                         thrown synchronously, before any I/O
 * ```
 *
 * `catch (e) { if (e instanceof CoordinationError) … }` therefore sees registry and coordination
 * trouble only (the failures a retry, a reconnection or an operator on the registry can fix), never a
 * failing handler or a bad definition. Each `code` names one class. `retryable` (and {@link isRetryable})
 * is true only for transient registry failures: connection loss, timeouts, session expiry, an unreachable
 * registry at `init()`.
 *
 * Backends translate their driver's errors into `CoordinationError` subclasses once, at the backend
 * boundary; no driver error type escapes `lib/registry/`.
 */

export type ErrorCode =
  | 'NO_NODE'
  | 'NODE_EXISTS'
  | 'BAD_VERSION'
  | 'NOT_EMPTY'
  | 'INVALID_PATH'
  | 'INVALID_ARGUMENT'
  | 'CONNECTION_LOSS'
  | 'OPERATION_TIMEOUT'
  | 'SESSION_EXPIRED'
  | 'TRANSACTION_FAILED'
  | 'NOT_LEADER'
  | 'LEADERSHIP_LOST'
  | 'LOCK_TIMEOUT'
  | 'CLOSED'
  | 'CONFIGURATION'
  | 'REGISTRY_CONNECTION'
  | 'REGISTRY_AUTH'
  | 'PERMISSION_DENIED'
  | 'CORRUPTED_DATA'
  | 'SYSTEM'
  | 'OWNERSHIP_LOST'
  | 'JOB_EXECUTION'
  | 'UNKNOWN_JOB'
  | 'JOB_IN_USE'
  | 'NOT_A_JOB'
  | 'INSTANCE_ID_CONFLICT'
  | 'REGISTRY_COMMAND_REFUSED';

export interface ShardlineErrorOptions {
  path?: string;
  cause?: unknown;
}

/** The options of every error constructor (the registry path involved, the original error). */
export type CoordinationErrorOptions = ShardlineErrorOptions;

/** Base class of every Shardline error. `code` is stable across releases; match on it or on the class. */
export class ShardlineError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly path: string | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: ShardlineErrorOptions = {},
    retryable = false,
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = retryable;
    this.path = options.path;
  }
}

/**
 * Base class of registry and coordination failures: what a backend, a session, a latch or a lock reports.
 * Backends throw only these.
 */
export class CoordinationError extends ShardlineError {}

/**
 * Base class of job-side failures: a user handler failed, or an operation on a job was refused for the
 * job's own state (unknown, still in use, not a job). The registry itself worked.
 */
export class JobError extends ShardlineError {}

/** The node does not exist (update of an absent node, check or delete in a transaction). */
export class NoNodeError extends CoordinationError {
  constructor(path: string, options: CoordinationErrorOptions = {}) {
    super('NO_NODE', `node ${path} does not exist`, { ...options, path });
  }
}

/** The node already exists (transaction create). */
export class NodeExistsError extends CoordinationError {
  constructor(path: string, options: CoordinationErrorOptions = {}) {
    super('NODE_EXISTS', `node ${path} already exists`, { ...options, path });
  }
}

/** A version check failed: somebody else changed the node since it was read. */
export class BadVersionError extends CoordinationError {
  constructor(path: string, expected: number | undefined, options: CoordinationErrorOptions = {}) {
    super('BAD_VERSION', `node ${path} is not at version ${String(expected)}`, {
      ...options,
      path,
    });
  }
}

/** The node has children where the operation needs a leaf. */
export class NotEmptyError extends CoordinationError {
  constructor(path: string, options: CoordinationErrorOptions = {}) {
    super('NOT_EMPTY', `node ${path} has children`, { ...options, path });
  }
}

/** A path is not an absolute, '/'-separated node path. */
export class InvalidPathError extends CoordinationError {
  constructor(path: string, reason: string) {
    super('INVALID_PATH', `invalid registry path ${JSON.stringify(path)}: ${reason}`, { path });
  }
}

/** A call received an argument it cannot use (other than a path). */
export class InvalidArgumentError extends CoordinationError {
  constructor(message: string, options: CoordinationErrorOptions = {}) {
    super('INVALID_ARGUMENT', message, options);
  }
}

/** The connection dropped while the request was in flight; the outcome of a write is unknown. Retryable. */
export class ConnectionLossError extends CoordinationError {
  constructor(message: string, options: CoordinationErrorOptions = {}) {
    super('CONNECTION_LOSS', message, options, true);
  }
}

/** No answer within the request timeout; the outcome of a write is unknown. Retryable. */
export class OperationTimeoutError extends CoordinationError {
  constructor(operation: string, timeoutMs: number, options: CoordinationErrorOptions = {}) {
    super('OPERATION_TIMEOUT', `${operation} got no answer within ${timeoutMs} ms`, options, true);
  }
}

/** The session (ZooKeeper session / etcd lease) ended; ephemeral nodes of this client are gone. */
export class SessionExpiredError extends CoordinationError {
  constructor(message: string, options: CoordinationErrorOptions = {}) {
    super('SESSION_EXPIRED', message, options, true);
  }
}

/** A transaction did not apply; nothing of it was applied. `failedIndex` names the failing op. */
export class TransactionError extends CoordinationError {
  readonly failedIndex: number;

  constructor(failedIndex: number, opDescription: string, cause: CoordinationError) {
    super(
      'TRANSACTION_FAILED',
      `transaction op #${failedIndex} (${opDescription}) failed: ${cause.message}`,
      {
        path: cause.path,
        cause,
      },
    );
    this.failedIndex = failedIndex;
  }
}

/** An operation needs leadership this participant does not hold. */
export class NotLeaderError extends CoordinationError {
  constructor(message: string, options: CoordinationErrorOptions = {}) {
    super('NOT_LEADER', message, options);
  }
}

/** Leadership (or a lock) was held but may have been lost: stop acting on it. */
export class LeadershipLostError extends CoordinationError {
  constructor(message: string, options: CoordinationErrorOptions = {}) {
    super('LEADERSHIP_LOST', message, options);
  }
}

/** A latch or lock was not acquired within its timeout. */
export class LockTimeoutError extends CoordinationError {
  readonly holder: string | null;

  constructor(path: string, timeoutMs: number, holder: string | null) {
    super(
      'LOCK_TIMEOUT',
      `could not acquire ${path} within ${timeoutMs} ms` +
        (holder === null ? '' : ` (held by ${holder})`),
      { path },
    );
    this.holder = holder;
  }
}

/** The object was closed; it cannot be used any more. */
export class ClosedError extends CoordinationError {
  constructor(what: string) {
    super('CLOSED', `${what} is closed`);
  }
}

/**
 * Invalid configuration or options (a registry centre's or a job's); the message names the field. Thrown
 * synchronously, before any I/O. Neither a coordination nor a job failure: the caller's input is wrong.
 */
export class ConfigurationError extends ShardlineError {
  readonly field: string | undefined;

  constructor(message: string, field?: string) {
    super('CONFIGURATION', message);
    this.field = field;
  }
}

/** The registry could not be reached (within `connectTimeoutMs` at `init()`); the message names the endpoints. */
export class RegistryConnectionError extends CoordinationError {
  constructor(message: string, options: CoordinationErrorOptions = {}) {
    super('REGISTRY_CONNECTION', message, options, true);
  }
}

/** The registry rejected our credentials. */
export class RegistryAuthError extends CoordinationError {
  constructor(message: string, options: CoordinationErrorOptions = {}) {
    super('REGISTRY_AUTH', message, options);
  }
}

/** The registry refused the operation for these credentials (ACL / role). */
export class PermissionDeniedError extends CoordinationError {
  constructor(path: string | undefined, options: CoordinationErrorOptions = {}) {
    super('PERMISSION_DENIED', `permission denied${path === undefined ? '' : ` on ${path}`}`, {
      ...options,
      path,
    });
  }
}

/** Data read from the registry could not be understood; the message names the path. */
export class CorruptedDataError extends CoordinationError {
  constructor(path: string, reason: string, options: CoordinationErrorOptions = {}) {
    super('CORRUPTED_DATA', `unreadable data at ${path}: ${reason}`, { ...options, path });
  }
}

/** An unexpected server-side failure, translated from a code the driver did not know. */
export class SystemError extends CoordinationError {
  constructor(message: string, options: CoordinationErrorOptions = {}) {
    super('SYSTEM', message, options);
  }
}

/**
 * Thrown by `ctx.checkOwnership()`: the sharding item may no longer be ours (the execution's signal was
 * aborted, or the worker has not heard from the registry for longer than a safe fraction of the session
 * timeout / lease TTL). Perform no further side effect for this item.
 */
export class OwnershipLostError extends CoordinationError {
  readonly jobName: string;
  readonly item: number;

  constructor(jobName: string, item: number, reason: string) {
    super('OWNERSHIP_LOST', `job ${jobName} item ${item}: ownership lost (${reason})`);
    this.jobName = jobName;
    this.item = item;
  }
}

/** A user handler failed (thrown error, timeout, non-zero script exit); `cause` holds the original. */
export class JobExecutionError extends JobError {
  readonly jobName: string;
  readonly item: number;

  constructor(
    jobName: string,
    item: number,
    message: string,
    options: CoordinationErrorOptions = {},
  ) {
    super('JOB_EXECUTION', `job ${jobName} item ${item}: ${message}`, options);
    this.jobName = jobName;
    this.item = item;
  }
}

/** The registry holds no job of that name (operations API, CLI). */
export class UnknownJobError extends JobError {
  readonly jobName: string;

  constructor(jobName: string) {
    super('UNKNOWN_JOB', `unknown job: ${jobName}`);
    this.jobName = jobName;
  }
}

/** Who holds an instance id: from the value of its `instances/{id}` node. */
export interface InstanceIdHolder {
  host: string;
  pid: number;
  /** Epoch ms at which the holder's worker started. */
  since: number;
}

/**
 * `startWorker` (or a re-registration) found the instance id held by another live process: two processes
 * must never share an id (they would run the same items). Names the id, the node and its holder.
 */
export class InstanceIdConflictError extends CoordinationError {
  readonly instanceId: string;
  readonly holder: InstanceIdHolder;

  constructor(instanceId: string, path: string, holder: InstanceIdHolder) {
    super(
      'INSTANCE_ID_CONFLICT',
      `instance id ${instanceId} is held by another live process (host ${holder.host}, pid ${holder.pid}, ` +
        `since ${new Date(holder.since).toISOString()}) at ${path}: give this worker another id, or stop that process`,
      { path },
    );
    this.instanceId = instanceId;
    this.holder = holder;
  }
}

/**
 * A script job's stored command differs from its definition's and this worker did not opt in with
 * `allowRegistryCommand`: the definition's command ran instead. `path` is the stored configuration.
 */
export class RegistryCommandRefusedError extends JobError {
  readonly jobName: string;

  constructor(jobName: string, path: string) {
    super(
      'REGISTRY_COMMAND_REFUSED',
      `job ${jobName}: the command stored at ${path} differs from the job definition's; the definition's ` +
        'command runs (start the worker with allowRegistryCommand: true to run the stored one)',
      { path },
    );
    this.jobName = jobName;
  }
}

/**
 * True for errors after which the same call may succeed later (connection loss, timeouts, session expiry,
 * an unreachable registry): any {@link ShardlineError} with `retryable` set. Job-side errors and
 * configuration errors never are.
 */
export function isRetryable(err: unknown): boolean {
  return err instanceof ShardlineError && err.retryable;
}
