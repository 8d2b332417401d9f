import { CorruptedDataError } from '../errors';
import { basename, joinPath, parentOf } from '../internal/paths';
import type {
  CoordinatorRegistryCenter,
  RegistryEvent,
  Unsubscribe,
} from '../registry/registry-center';
import { latchNodes } from '../registry/leader-latch';

/** Who leads: the head of the candidate queue. */
export interface LeaderInfo {
  candidateId: string;
  value: string;
}

/** Parse a candidate node's value (`{ candidateId, value }`); `undefined` when unreadable. */
export function parseCandidate(raw: string): LeaderInfo | undefined {
  try {
    const parsed = JSON.parse(raw) as Partial<LeaderInfo>;
    if (typeof parsed.candidateId === 'string' && typeof parsed.value === 'string') {
      return { candidateId: parsed.candidateId, value: parsed.value };
    }
  } catch {
    // unreadable: the caller reports it
  }
  return undefined;
}

/** Read and parse one candidate node; an unreadable one is reported and shown by its raw value. */
export function candidateInfo(
  path: string,
  raw: string,
  onError: (err: Error) => void,
): LeaderInfo {
  const info = parseCandidate(raw);
  if (info !== undefined) {
    return info;
  }
  onError(new CorruptedDataError(path, 'expected {"candidateId": string, "value": string}'));
  return { candidateId: raw, value: '' };
}

/**
 * A local view of an election's candidate queue, kept current by a watch of its directory, that reports
 * every change of the head (the leader) as it happens, without a round trip per event.
 *
 * Candidate nodes are created once and deleted once, never updated nor re-created under the same name, so
 * applying the events that arrived during the initial read on top of that read converges exactly.
 */
export class CandidateView {
  private readonly nodes = new Map<string, string>();
  private buffered: RegistryEvent[] | undefined = [];
  private lastLeader: LeaderInfo | null | undefined;
  private unwatch: Unsubscribe | undefined;

  constructor(
    private readonly registry: CoordinatorRegistryCenter,
    private readonly dir: string,
    private readonly onLeader: (leader: LeaderInfo | null) => void,
    private readonly onError: (err: Error) => void,
  ) {}

  async start(): Promise<void> {
    this.unwatch = await this.registry.watch(this.dir, event => {
      if (parentOf(event.path) !== this.dir || event.type === 'updated') {
        return;
      }
      if (this.buffered !== undefined) {
        this.buffered.push(event);
      } else {
        this.apply(event);
        this.report();
      }
    });
    try {
      for (const name of latchNodes(await this.registry.getChildrenKeys(this.dir))) {
        const raw = await this.registry.getDirectly(joinPath(this.dir, name));
        if (raw !== null) {
          this.nodes.set(name, raw);
        }
      }
    } catch (err) {
      this.close();
      throw err;
    }
    for (const event of this.buffered ?? []) {
      this.apply(event);
    }
    this.buffered = undefined;
    this.report();
  }

  close(): void {
    this.unwatch?.();
    this.unwatch = undefined;
  }

  private apply(event: RegistryEvent): void {
    const name = basename(event.path);
    if (event.type === 'removed') {
      this.nodes.delete(name);
    } else if (event.value !== null) {
      this.nodes.set(name, event.value);
    }
  }

  private report(): void {
    const head = latchNodes([...this.nodes.keys()])[0];
    const raw = head === undefined ? undefined : this.nodes.get(head);
    const leader =
      head === undefined || raw === undefined
        ? null
        : candidateInfo(joinPath(this.dir, head), raw, this.onError);
    const last = this.lastLeader;
    const same =
      leader === last ||
      (leader !== null &&
        last !== null &&
        last !== undefined &&
        leader.candidateId === last.candidateId &&
        leader.value === last.value);
    if (!same) {
      this.lastLeader = leader;
      this.onLeader(leader);
    }
  }
}
