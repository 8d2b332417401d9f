import { zk } from '../zookeeper-client-types';
import type { ZkException } from '../zookeeper-client-types';
import { zkCodeName } from '../zookeeper-client-types';

/**
 * The error for a server error code, as the library would build it.
 *
 * The library's `Exception.create` throws for a code it does not know (e.g. -125 QUOTA_EXCEEDED, -118
 * SESSION_MOVED, -127 THROTTLED); thrown inside the socket handler, that crashes the process (issue #70).
 * For those codes this builds a SYSTEM_ERROR Exception (a genuine library Exception) and then gives that one
 * instance the real code, name and message. `Exception.create` itself is not changed.
 */
export function zkException(code: number, path?: string): ZkException {
  try {
    return zk.Exception.create(code, path);
  } catch {
    const err = zk.Exception.create(SYSTEM_ERROR, path);
    const name = zkCodeName(code);
    err.code = code;
    err.name = name;
    err.message = `Exception: ${name}[${code}]` + (path ? `@${path}` : '');
    return err;
  }
}

/** True when the library's `Exception.create` knows `code` (it throws for the others). */
export function isLibraryCode(code: number): boolean {
  return KNOWN.has(code);
}

const SYSTEM_ERROR = -1;

/** The codes the library exports on its Exception module (`Exception.NO_NODE` = -101, ...). */
const KNOWN: ReadonlySet<number> = new Set(
  Object.values(zk.Exception as unknown as Record<string, unknown>).filter(
    (v): v is number => typeof v === 'number',
  ),
);
