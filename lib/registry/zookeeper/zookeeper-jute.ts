import jute from 'node-zookeeper-client/lib/jute';
import type { ZkClient, ZkException, ZkWatcher } from './zookeeper-client-types';

/**
 * Fast decoders for the responses a cache load is made of (node-zookeeper-client@1.1.3's wire module).
 *
 * The library decodes every record generically: a regex per attribute and a fresh zero-filled, unpooled
 * `Buffer.alloc(8)` per 64-bit field, twice (constructor, then deserialize). A Stat has six of them, so
 * reading 10 000 nodes (20 000 replies) allocated ~300 000 ArrayBuffers and spent most of its time in GC.
 * These classes decode the same bytes into the same fields (longs as 8-byte Buffers, from Node's pool) and
 * replace the library's classes by name; the library looks them up at run time (`new jute.data[name]()`,
 * `new jute.protocol.ReplyHeader()`), so every client in the process uses them. Only classes that the client
 * never serialises are replaced.
 */

const STAT_BYTES = 68;
/** Initial value of long fields before `deserialize` (never written to). */
const ZERO_LONG: Buffer = Buffer.alloc(8);

function readLong(buffer: Buffer, offset: number): Buffer {
  const out = Buffer.allocUnsafe(8);
  buffer.copy(out, 0, offset, offset + 8);
  return out;
}

class FastRecord {
  chrootPath: string | undefined = undefined;

  setChrootPath(path: string): void {
    this.chrootPath = path;
  }
}

export class FastStat extends FastRecord {
  czxid = ZERO_LONG;
  mzxid = ZERO_LONG;
  ctime = ZERO_LONG;
  mtime = ZERO_LONG;
  version = 0;
  cversion = 0;
  aversion = 0;
  ephemeralOwner = ZERO_LONG;
  dataLength = 0;
  numChildren = 0;
  pzxid = ZERO_LONG;

  deserialize(buffer: Buffer, offset: number): number {
    this.czxid = readLong(buffer, offset);
    this.mzxid = readLong(buffer, offset + 8);
    this.ctime = readLong(buffer, offset + 16);
    this.mtime = readLong(buffer, offset + 24);
    this.version = buffer.readInt32BE(offset + 32);
    this.cversion = buffer.readInt32BE(offset + 36);
    this.aversion = buffer.readInt32BE(offset + 40);
    this.ephemeralOwner = readLong(buffer, offset + 44);
    this.dataLength = buffer.readInt32BE(offset + 52);
    this.numChildren = buffer.readInt32BE(offset + 56);
    this.pzxid = readLong(buffer, offset + 60);
    return STAT_BYTES;
  }
}

class FastReplyHeader extends FastRecord {
  xid = 0;
  zxid = ZERO_LONG;
  err = 0;

  deserialize(buffer: Buffer, offset: number): number {
    this.xid = buffer.readInt32BE(offset);
    this.zxid = readLong(buffer, offset + 4);
    this.err = buffer.readInt32BE(offset + 12);
    return 16;
  }
}

class FastStatResponse extends FastRecord {
  stat = new FastStat();

  deserialize(buffer: Buffer, offset: number): number {
    return this.stat.deserialize(buffer, offset);
  }
}

class FastGetDataResponse extends FastRecord {
  data: Buffer | undefined = undefined;
  stat = new FastStat();

  deserialize(buffer: Buffer, offset: number): number {
    const length = buffer.readInt32BE(offset);
    let read = 4;
    if (length === -1) {
      this.data = undefined;
    } else {
      if (offset + read + length > buffer.length) {
        throw new RangeError('GetDataResponse: data beyond the packet');
      }
      this.data = Buffer.allocUnsafe(length);
      buffer.copy(this.data, 0, offset + read, offset + read + length);
      read += length;
    }
    return read + this.stat.deserialize(buffer, offset + read);
  }
}

class FastGetChildren2Response extends FastRecord {
  children: string[] | undefined = undefined;
  stat = new FastStat();

  deserialize(buffer: Buffer, offset: number): number {
    let count = buffer.readInt32BE(offset);
    let read = 4;
    if (count === -1) {
      this.children = undefined;
    } else {
      const children: string[] = [];
      while (count > 0) {
        const length = buffer.readInt32BE(offset + read);
        read += 4;
        if (length < 0 || offset + read + length > buffer.length) {
          throw new RangeError('GetChildren2Response: name beyond the packet');
        }
        children.push(buffer.toString('utf8', offset + read, offset + read + length));
        read += length;
        count -= 1;
      }
      this.children = children;
    }
    return read + this.stat.deserialize(buffer, offset + read);
  }
}

/** `path` with the client's chroot in front, as the library's Record does. */
function withChroot(chrootPath: string | undefined, path: string): string {
  if (!chrootPath) {
    return path;
  }
  return path === '/' ? chrootPath : chrootPath + path;
}

class FastRequestHeader extends FastRecord {
  constructor(
    public xid = 0,
    public type = 0,
  ) {
    super();
  }

  byteLength(): number {
    return 8;
  }

  serialize(buffer: Buffer, offset: number): number {
    buffer.writeInt32BE(this.xid, offset);
    buffer.writeInt32BE(this.type, offset + 4);
    return 8;
  }
}

/** GetDataRequest, GetChildren2Request and ExistsRequest: `{ path: ustring, watch: boolean }`. */
class FastPathWatchRequest extends FastRecord {
  path: string | undefined = undefined;
  watch = false;

  byteLength(): number {
    return 4 + Buffer.byteLength(withChroot(this.chrootPath, this.path ?? '')) + 1;
  }

  serialize(buffer: Buffer, offset: number): number {
    const path = withChroot(this.chrootPath, this.path ?? '');
    const length = buffer.write(path, offset + 4, 'utf8');
    buffer.writeInt32BE(length, offset);
    buffer.writeUInt8(this.watch ? 1 : 0, offset + 4 + length);
    return 4 + length + 1;
  }
}

interface Serializable {
  byteLength(): number;
  serialize(buffer: Buffer, offset: number): number;
}

/** Request.toBuffer with a pooled buffer (the library allocates an unpooled one per request). */
function toBufferPooled(this: {
  header: Serializable | null;
  payload: Serializable | null;
}): Buffer {
  const size = (this.header?.byteLength() ?? 0) + (this.payload?.byteLength() ?? 0);
  const buffer = Buffer.allocUnsafe(size + 4);
  buffer.writeInt32BE(size, 0);
  let offset = 4;
  if (this.header) {
    offset += this.header.serialize(buffer, offset);
  }
  if (this.payload) {
    offset += this.payload.serialize(buffer, offset);
  }
  if (offset !== size + 4) {
    buffer.fill(0, offset); // never send stale pool bytes
  }
  return buffer;
}

const OP_GET_DATA = 4;
const OP_GET_CHILDREN2 = 12;

/**
 * getData / getChildren (GET_CHILDREN2) straight onto the connection manager's queue, as the library's
 * `Client` methods do minus their retry machinery (an async.whilst loop per request, which we never use:
 * retries are 0) and a path validation our paths have passed already. The watcher is registered on success,
 * as the library does. The bulk reads of a cache load go this way.
 */
export function queueRead(
  client: ZkClient,
  kind: 'getData' | 'getChildren',
  path: string,
  watcher: ZkWatcher | undefined,
  callback: (error: ZkException | null, payload: unknown) => void,
): void {
  const cm = client.connectionManager;
  const payload = new FastPathWatchRequest();
  payload.path = path;
  payload.watch = watcher !== undefined;
  const header = new FastRequestHeader(0, kind === 'getData' ? OP_GET_DATA : OP_GET_CHILDREN2);
  const RequestClass = jute.Request as new (header: unknown, payload: unknown) => unknown;
  cm.queue(new RequestClass(header, payload), (error, response) => {
    if (error) {
      callback(error, undefined);
      return;
    }
    if (watcher !== undefined) {
      if (kind === 'getData') {
        cm.registerDataWatcher(path, watcher);
      } else {
        cm.registerChildWatcher(path, watcher);
      }
    }
    callback(null, response?.payload);
  });
}

let installed = false;

/** Replace the decoders (idempotent, process-wide). */
export function installFastDecoders(): void {
  if (installed) {
    return;
  }
  installed = true;
  jute.data.Stat = FastStat;
  jute.protocol.ReplyHeader = FastReplyHeader;
  jute.protocol.GetDataResponse = FastGetDataResponse;
  jute.protocol.GetChildren2Response = FastGetChildren2Response;
  jute.protocol.ExistsResponse = FastStatResponse;
  jute.protocol.SetDataResponse = FastStatResponse;
  jute.protocol.RequestHeader = FastRequestHeader;
  jute.protocol.GetDataRequest = FastPathWatchRequest;
  jute.protocol.GetChildren2Request = FastPathWatchRequest;
  jute.protocol.ExistsRequest = FastPathWatchRequest;
  (jute.Request as { prototype: { toBuffer: unknown } }).prototype.toBuffer = toBufferPooled;
}
