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
}

export function parseGenerationRecord(raw: string | null | undefined): GenerationRecord {
  const [g, count, digest] = (raw ?? '').split(':');
  const generation = Number(g);
  const itemCount = count === undefined ? NaN : Number(count);
  return {
    generation: Number.isSafeInteger(generation) && generation >= 0 ? generation : 0,
    itemCount: Number.isSafeInteger(itemCount) && itemCount >= 0 ? itemCount : undefined,
    digest: digest === undefined || digest === '' ? undefined : digest,
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
