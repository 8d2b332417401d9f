import {
  BadVersionError,
  ConnectionLossError,
  CoordinationError,
  InvalidArgumentError,
  NodeExistsError,
  NoNodeError,
  NotEmptyError,
  OperationTimeoutError,
  PermissionDeniedError,
  RegistryAuthError,
  SessionExpiredError,
  SystemError,
} from '../../errors';
import { isZkException, ZkCode, zkCodeName } from './zookeeper-client-types';

/**
 * The one place where node-zookeeper-client errors become Shardline errors, so no driver error type
 * escapes the backend and every backend throws the same class for the same condition. Paths in the
 * resulting errors are namespace-relative. A code that is not in the table (including the codes the library
 * itself does not know, see wire/exceptions.ts) becomes a {@link SystemError} naming the code.
 */

export interface ZkErrorContext {
  /** What was attempted, e.g. 'getData' (named as in the etcd backend's ErrorContext). */
  operation: string;
  /** Namespace-relative path of the request, when there is one. */
  path?: string;
  /** The expected version, for BAD_VERSION. */
  version?: number;
}

type Translate = (ctx: ZkErrorContext, cause: Error) => CoordinationError;

const where = (ctx: ZkErrorContext): string =>
  ctx.path === undefined ? ctx.operation : `${ctx.operation} ${ctx.path}`;

const TABLE: ReadonlyMap<number, Translate> = new Map<number, Translate>([
  [ZkCode.NO_NODE, (ctx, cause) => new NoNodeError(ctx.path ?? '?', { cause })],
  [ZkCode.NODE_EXISTS, (ctx, cause) => new NodeExistsError(ctx.path ?? '?', { cause })],
  [
    ZkCode.BAD_VERSION,
    (ctx, cause) => new BadVersionError(ctx.path ?? '?', ctx.version, { cause }),
  ],
  [ZkCode.NOT_EMPTY, (ctx, cause) => new NotEmptyError(ctx.path ?? '?', { cause })],
  [
    ZkCode.NO_CHILDREN_FOR_EPHEMERALS,
    (ctx, cause) =>
      new InvalidArgumentError(`${where(ctx)}: an ephemeral node cannot have children`, {
        path: ctx.path,
        cause,
      }),
  ],
  [
    ZkCode.CONNECTION_LOSS,
    (ctx, cause) =>
      new ConnectionLossError(`${where(ctx)}: connection to ZooKeeper lost`, {
        path: ctx.path,
        cause,
      }),
  ],
  [
    ZkCode.SESSION_MOVED,
    (ctx, cause) =>
      new ConnectionLossError(`${where(ctx)}: ZooKeeper session moved to another connection`, {
        path: ctx.path,
        cause,
      }),
  ],
  [
    ZkCode.THROTTLED_OP,
    (ctx, cause) =>
      new ConnectionLossError(`${where(ctx)}: ZooKeeper throttled the request`, {
        path: ctx.path,
        cause,
      }),
  ],
  [
    ZkCode.OPERATION_TIMEOUT,
    (ctx, cause) => new OperationTimeoutError(where(ctx), 0, { path: ctx.path, cause }),
  ],
  [
    ZkCode.REQUEST_TIMEOUT,
    (ctx, cause) => new OperationTimeoutError(where(ctx), 0, { path: ctx.path, cause }),
  ],
  [
    ZkCode.SESSION_EXPIRED,
    (ctx, cause) =>
      new SessionExpiredError(`${where(ctx)}: ZooKeeper session expired`, {
        path: ctx.path,
        cause,
      }),
  ],
  [ZkCode.NO_AUTH, (ctx, cause) => new PermissionDeniedError(ctx.path, { cause })],
  [ZkCode.INVALID_ACL, (ctx, cause) => new PermissionDeniedError(ctx.path, { cause })],
  [
    ZkCode.AUTH_FAILED,
    (ctx, cause) =>
      new RegistryAuthError(`${where(ctx)}: ZooKeeper rejected the credentials`, {
        path: ctx.path,
        cause,
      }),
  ],
  [
    ZkCode.BAD_ARGUMENTS,
    (ctx, cause) =>
      new InvalidArgumentError(`${where(ctx)}: ZooKeeper rejected the arguments`, {
        path: ctx.path,
        cause,
      }),
  ],
]);

/** Translate anything a ZooKeeper call produced (callback error or synchronous throw). */
export function translateZkError(err: unknown, ctx: ZkErrorContext): CoordinationError {
  if (err instanceof CoordinationError) {
    return err;
  }
  if (isZkException(err)) {
    const translate = TABLE.get(err.code);
    if (translate !== undefined) {
      return translate(ctx, err);
    }
    return new SystemError(`${where(ctx)}: ZooKeeper error ${zkCodeName(err.code)}[${err.code}]`, {
      path: ctx.path,
      cause: err,
    });
  }
  if (err instanceof Error && err.name.startsWith('AssertionError')) {
    // The library validates some arguments with assert (e.g. data over 1 MiB), synchronously.
    return new InvalidArgumentError(`${where(ctx)}: ${err.message}`, {
      path: ctx.path,
      cause: err,
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new SystemError(`${where(ctx)}: ${message}`, { path: ctx.path, cause: err });
}

/** The server error code of a library error, or undefined for anything else. */
export function zkErrorCode(err: unknown): number | undefined {
  if (isZkException(err)) {
    return err.code;
  }
  if (err instanceof CoordinationError && isZkException(err.cause)) {
    return err.cause.code;
  }
  return undefined;
}
