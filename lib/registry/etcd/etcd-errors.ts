import {
  ClientClosedError,
  EtcdAuthenticationFailedError,
  EtcdError,
  EtcdInvalidAuthTokenError,
  EtcdLeaseInvalidError,
  EtcdPermissionDeniedError,
  EtcdWatchStreamEnded,
  GRPCAbortedError,
  GRPCCancelledError,
  GRPCDeadlineExceededError,
  GRPCInternalError,
  GRPCInvalidArgumentError,
  GRPCResourceExhastedError,
  GRPCUnauthenticatedError,
  GRPCUnavailableError,
  GRPCUnknownError,
} from 'etcd3';
import { isBrokenCircuitError } from 'cockatiel';
import {
  ClosedError,
  ConnectionLossError,
  CoordinationError,
  InvalidArgumentError,
  OperationTimeoutError,
  PermissionDeniedError,
  RegistryAuthError,
  SessionExpiredError,
  SystemError,
} from '../../errors';
import { EtcdLeaderChangedError } from './etcd-term-watch';

/**
 * The one place where etcd3 / gRPC errors become Shardline errors, so that every backend throws the same
 * class for the same condition. No etcd3 error type escapes
 * `lib/registry/`. etcd3 has no common base class, so the table matches constructors in order; the first
 * match wins, and anything unknown becomes a `SystemError` carrying the original as `cause`.
 */

export interface ErrorContext {
  /** What was being done, e.g. 'put' or 'lease keepalive'. */
  operation: string;
  path?: string;
  /** The deadline the call had, for the timeout message. */
  timeoutMs: number;
  /** Endpoints, for messages. */
  description: string;
}

type ErrorClass = abstract new (...args: never[]) => Error;

const TABLE: readonly [ErrorClass, (err: Error, ctx: ErrorContext) => CoordinationError][] = [
  [
    EtcdAuthenticationFailedError,
    (err, ctx) =>
      new RegistryAuthError(`${ctx.description}: etcd rejected the username or password`, {
        cause: err,
      }),
  ],
  [
    EtcdInvalidAuthTokenError,
    (err, ctx) =>
      new RegistryAuthError(`${ctx.description}: etcd rejected the auth token`, { cause: err }),
  ],
  [
    GRPCUnauthenticatedError,
    (err, ctx) =>
      new RegistryAuthError(`${ctx.description}: etcd requires authentication`, { cause: err }),
  ],
  [EtcdPermissionDeniedError, (err, ctx) => new PermissionDeniedError(ctx.path, { cause: err })],
  [
    EtcdLeaseInvalidError,
    (err, ctx) =>
      new SessionExpiredError(`${ctx.description}: the session lease expired (${ctx.operation})`, {
        cause: err,
        path: ctx.path,
      }),
  ],
  [
    GRPCDeadlineExceededError,
    (err, ctx) =>
      new OperationTimeoutError(`etcd ${ctx.operation}`, ctx.timeoutMs, {
        cause: err,
        path: ctx.path,
      }),
  ],
  [GRPCUnavailableError, connectionLoss],
  [EtcdLeaderChangedError, connectionLoss],
  [GRPCCancelledError, connectionLoss],
  [EtcdWatchStreamEnded, connectionLoss],
  [GRPCAbortedError, connectionLoss],
  [
    GRPCInvalidArgumentError,
    (err, ctx) =>
      new InvalidArgumentError(`etcd ${ctx.operation}: ${err.message}`, {
        cause: err,
        path: ctx.path,
      }),
  ],
  [
    GRPCResourceExhastedError,
    (err, ctx) =>
      new InvalidArgumentError(`etcd ${ctx.operation}: ${err.message}`, {
        cause: err,
        path: ctx.path,
      }),
  ],
  [ClientClosedError, (_err, ctx) => new ClosedError(ctx.description)],
  [GRPCInternalError, connectionLoss],
  [GRPCUnknownError, connectionLoss],
];

/** etcd's answer (ErrUserEmpty) to a request that carries no auth token while authentication is enabled. */
const AUTH_REQUIRED = /etcdserver: user name is empty/;

/** etcd server messages that arrive as a plain `EtcdError` and mean "the request itself is unacceptable". */
const BAD_REQUEST_MESSAGES = [
  'too many operations in txn request',
  'duplicate key given in txn request',
  'request is too large',
  'key is not provided',
  'value is too large',
];

function connectionLoss(err: Error, ctx: ErrorContext): CoordinationError {
  return new ConnectionLossError(
    `${ctx.description}: etcd ${ctx.operation} failed: ${err.message}`,
    {
      cause: err,
      path: ctx.path,
    },
  );
}

/** Translate anything thrown by etcd3 (or already ours) into a {@link CoordinationError}. */
export function translateEtcdError(err: unknown, ctx: ErrorContext): CoordinationError {
  if (err instanceof CoordinationError) {
    return err;
  }
  if (!(err instanceof Error)) {
    return new SystemError(`${ctx.description}: etcd ${ctx.operation} failed: ${String(err)}`, {
      path: ctx.path,
    });
  }
  if (AUTH_REQUIRED.test(err.message)) {
    // etcd answers a request without a token, while auth is on, with INVALID_ARGUMENT "user name is
    // empty": that is a missing credential, not a bad request (which the CLI reports as a usage error).
    return new RegistryAuthError(
      `${ctx.description}: etcd requires authentication (no credentials were given: add ` +
        'user:password@ to the URL, or the auth option)',
      { cause: err },
    );
  }
  for (const [type, make] of TABLE) {
    if (err instanceof type) {
      return make(err, ctx);
    }
  }
  if (isBrokenCircuitError(err)) {
    return connectionLoss(err, ctx);
  }
  if (err instanceof EtcdError && BAD_REQUEST_MESSAGES.some(m => err.message.includes(m))) {
    return new InvalidArgumentError(`etcd ${ctx.operation}: ${err.message}`, {
      cause: err,
      path: ctx.path,
    });
  }
  if (/lease not found|lease .* expired/i.test(err.message)) {
    return new SessionExpiredError(
      `${ctx.description}: the session lease expired (${ctx.operation})`,
      {
        cause: err,
        path: ctx.path,
      },
    );
  }
  return new SystemError(`${ctx.description}: etcd ${ctx.operation} failed: ${err.message}`, {
    cause: err,
    path: ctx.path,
  });
}

/** True when a read at an old revision failed because that revision was compacted away. */
export function isCompactedError(err: unknown): boolean {
  return err instanceof Error && /compacted/i.test(err.message);
}

/** True for errors that mean the server could not be reached at all (for `connect()`). */
export function isUnreachable(err: CoordinationError): boolean {
  return err instanceof ConnectionLossError || err instanceof OperationTimeoutError;
}
