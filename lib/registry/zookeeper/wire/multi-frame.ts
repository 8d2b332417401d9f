import { OwnRequest } from './own-request';
import type { ReplyDecoder } from './own-request';

/**
 * The framing multi (OpCode 14, multi-request.ts) and multiRead (OpCode 22, multi-read.ts) share. Request
 * (MultiOperationRecord): per op a MultiHeader {type: int, done: boolean = false, err: int = -1} and the op's
 * record, then MultiHeader {-1, true, -1}. Reply (MultiResponse): per result a MultiHeader {type, done = false,
 * err} and the result's record, then a MultiHeader with done. What the records hold is the caller's.
 */

/** Bytes of a MultiHeader {type: int, done: boolean, err: int}. */
export const MULTI_HEADER_BYTES = 4 + 1 + 4;

/** How one kind of op is written into a multi frame (`index` is the op's place in the request). */
export interface MultiOpWriter<T> {
  /** The op's MultiHeader type. */
  type(op: T, index: number): number;
  /** Bytes of its record. */
  recordBytes(op: T, index: number): number;
  /** Writes its record at `offset`; returns the bytes written. */
  writeRecord(buffer: Buffer, offset: number, op: T, index: number): number;
}

function writeHeader(buffer: Buffer, offset: number, type: number, done: boolean): number {
  buffer.writeInt32BE(type, offset);
  buffer.writeUInt8(done ? 1 : 0, offset + 4);
  buffer.writeInt32BE(-1, offset + 5);
  return MULTI_HEADER_BYTES;
}

/** An own request of `opCode` carrying `ops` in one multi frame; its reply goes to `decode`. */
export function multiFrameRequest<T>(
  opCode: number,
  ops: readonly T[],
  writer: MultiOpWriter<T>,
  decode: ReplyDecoder,
): OwnRequest {
  let length = MULTI_HEADER_BYTES;
  ops.forEach((op, i) => {
    length += MULTI_HEADER_BYTES + writer.recordBytes(op, i);
  });
  return new OwnRequest(
    opCode,
    length,
    (buffer, start) => {
      let offset = start;
      ops.forEach((op, i) => {
        offset += writeHeader(buffer, offset, writer.type(op, i), false);
        offset += writer.writeRecord(buffer, offset, op, i);
      });
      offset += writeHeader(buffer, offset, -1, true);
      return offset - start;
    },
    decode,
  );
}

/** A read position in a reply frame; every read checks that its bytes are inside the packet. */
export class ReplyReader {
  constructor(
    readonly frame: Buffer,
    public offset: number,
    /** Names the request in errors ('multi', 'multiRead'). */
    private readonly what: string,
  ) {}

  /** Throws unless `bytes` more are in the packet. */
  need(bytes: number): void {
    if (this.offset + bytes > this.frame.length) {
      throw new RangeError(`${this.what} reply: record beyond the packet`);
    }
  }

  int(): number {
    this.need(4);
    const value = this.frame.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  /** `length` bytes of UTF-8 (length ≥ 0). */
  utf8(length: number): string {
    this.need(length);
    const value = this.frame.toString('utf8', this.offset, this.offset + length);
    this.offset += length;
    return value;
  }
}

/**
 * Decodes a MultiResponse from `start`: each result's record is read by `decodeResult` from the reader (which
 * it advances past the record) until the closing header. Throws a RangeError on bytes that do not fit.
 */
export function decodeMultiFrame<T>(
  frame: Buffer,
  start: number,
  what: string,
  decodeResult: (type: number, reader: ReplyReader) => T,
): T[] {
  const out: T[] = [];
  const reader = new ReplyReader(frame, start, what);
  for (;;) {
    reader.need(MULTI_HEADER_BYTES);
    const type = frame.readInt32BE(reader.offset);
    const done = frame.readUInt8(reader.offset + 4) !== 0;
    reader.offset += MULTI_HEADER_BYTES;
    if (done) {
      return out;
    }
    out.push(decodeResult(type, reader));
  }
}
