/**
 * The value of `/{job}/sharding` (pure): the assignment generation — the fencing token source — and a
 * digest of the assignment it stands for, `"<generation>:<itemCount>:<digest>"`.
 *
 * One resharding transaction writes the item owners and this record together, but a cache may apply the
 * transaction's node events in more than one batch (ZooKeeper notifications are re-read node by node). A
 * follower compares the digest with the owners it holds and acts on an assignment only once the two agree:
 * it never reports a half-applied resharding. A bare number (no digest) is still read, as "no check".
 */
export interface GenerationRecord {
  generation: number;
  /** Items the digest covers (0..itemCount-1); `undefined` when the record carries no digest. */
  itemCount: number | undefined;
  digest: string | undefined;
  /**
   * False when a value is present but is not a record (someone wrote into the node): it then reads as
   * generation 0 with no digest, and the job reports it and rewrites it. Absent or empty reads as valid.
   */
  valid: boolean;
}

const RECORD = /^(\d{1,15})(?::(\d{1,9}):([0-9a-f]{8}))?$/;

export function parseGenerationRecord(raw: string | null | undefined): GenerationRecord {
  const match = RECORD.exec(raw ?? '');
  if (match === null) {
    return {
      generation: 0,
      itemCount: undefined,
      digest: undefined,
      // '' is a parent created empty (a child written with its parents): no record yet, not corruption.
      valid: raw === null || raw === undefined || raw === '',
    };
  }
  const [, g, count, digest] = match;
  return {
    generation: Number(g),
    itemCount: count === undefined ? undefined : Number(count),
    digest,
    valid: true,
  };
}

export function formatGenerationRecord(
  generation: number,
  owners: readonly (string | null)[],
): string {
  return `${generation}:${owners.length}:${assignmentDigest(owners)}`;
}

/** Same record, a new generation (a failover claim moves no item: the digest stays). */
export function withGeneration(record: GenerationRecord, generation: number): string {
  return record.digest === undefined || record.itemCount === undefined
    ? String(generation)
    : `${generation}:${record.itemCount}:${record.digest}`;
}

/** FNV-1a (32-bit, hex) over `item=owner;` for every item: cheap, and enough to tell two views apart. */
export function assignmentDigest(owners: readonly (string | null)[]): string {
  let hash = 0x811c9dc5;
  const text = owners.map((owner, item) => `${item}=${owner ?? ''};`).join('');
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}
