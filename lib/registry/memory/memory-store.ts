import { BadVersionError, NodeExistsError, NoNodeError, TransactionError } from '../../errors';
import { ChildIndex } from '../../internal/child-index';
import { ancestorsOf, isUnder, parentOf, sequentialName } from '../../internal/paths';
import type { NodeData } from '../driver';
import { describeOp, type TxnOp } from '../txn';

interface StoredNode {
  value: string;
  version: number;
  stamp: bigint;
  owner: number | null;
}

export type StoreChange =
  { type: 'put'; path: string; data: NodeData } | { type: 'delete'; path: string };

export type StoreListener = (changes: readonly StoreChange[]) => void;

/**
 * The data of one embedded namespace: a versioned node tree with one revision counter, ephemeral owners,
 * per-parent sequential counters and atomic multi-op commits. Pure data structure: sessions, timers and
 * connection simulation live in the driver. Every mutation is applied synchronously and then reported to
 * the listeners as one batch (a transaction is one batch), in revision order.
 */
export class MemoryStore {
  private readonly nodes = new Map<string, StoredNode>([
    ['/', { value: '', version: 0, stamp: 0n, owner: null }],
  ]);
  private readonly childIndex = new ChildIndex();
  private readonly sequences = new Map<string, number>();
  private readonly listeners = new Set<StoreListener>();
  private revision = 0n;
  private nextSession = 1;

  newSessionId(): number {
    return this.nextSession++;
  }

  subscribe(listener: StoreListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  read(path: string): NodeData | null {
    const node = this.nodes.get(path);
    return node === undefined ? null : toData(node);
  }

  children(path: string): string[] {
    return [...(this.childIndex.names(path) ?? [])];
  }

  /** Every node at or below `root`. */
  snapshot(root: string): Map<string, NodeData> {
    const out = new Map<string, NodeData>();
    const walk = (path: string): void => {
      const node = this.nodes.get(path);
      if (node === undefined) {
        return;
      }
      out.set(path, toData(node));
      for (const name of this.childIndex.names(path) ?? []) {
        walk(path === '/' ? `/${name}` : `${path}/${name}`);
      }
    };
    walk(root);
    return out;
  }

  put(path: string, value: string, owner: number | null): void {
    const changes: StoreChange[] = [];
    this.ensureParents(path, changes);
    const existing = this.nodes.get(path);
    if (existing !== undefined && existing.owner !== owner) {
      // Ownership changes (persistent ↔ ephemeral, or another session's node): re-create, as ZooKeeper.
      this.deleteTree(path, changes);
    }
    this.write(path, value, owner, changes);
    this.publish(changes);
  }

  update(path: string, value: string): void {
    const existing = this.nodes.get(path);
    if (existing === undefined) {
      throw new NoNodeError(path);
    }
    const changes: StoreChange[] = [];
    this.write(path, value, existing.owner, changes);
    this.publish(changes);
  }

  createSequential(prefix: string, value: string, owner: number | null): string {
    const parent = parentOf(prefix);
    const changes: StoreChange[] = [];
    this.ensureParents(prefix, changes);
    const counter = this.sequences.get(parent) ?? 0;
    this.sequences.set(parent, counter + 1);
    const path = sequentialName(prefix, counter);
    this.write(path, value, owner, changes);
    this.publish(changes);
    return path;
  }

  remove(path: string): void {
    const changes: StoreChange[] = [];
    this.deleteTree(path, changes);
    this.publish(changes);
  }

  /** Delete every node owned by `owner` (session end). */
  dropOwner(owner: number): void {
    const changes: StoreChange[] = [];
    for (const [path, node] of [...this.nodes]) {
      if (node.owner === owner && this.nodes.has(path)) {
        this.deleteTree(path, changes);
      }
    }
    this.publish(changes);
  }

  /** Validate every op against the state the earlier ops leave, then apply them all, or throw. */
  commit(ops: readonly TxnOp[], owner: number): void {
    const overlay = new Map<string, StoredNode | null>();
    const view = (p: string): StoredNode | undefined => {
      const o = overlay.get(p);
      return o === null ? undefined : (o ?? this.nodes.get(p));
    };
    ops.forEach((op, index) => {
      const fail = (cause: NoNodeError | NodeExistsError | BadVersionError): never => {
        throw new TransactionError(index, describeOp(op), cause);
      };
      const node = view(op.path);
      if (op.type === 'create') {
        if (node !== undefined) {
          fail(new NodeExistsError(op.path));
        }
        if (view(parentOf(op.path)) === undefined) {
          fail(new NoNodeError(parentOf(op.path)));
        }
        overlay.set(op.path, { value: op.value, version: 0, stamp: 0n, owner: null });
        return;
      }
      if (node === undefined) {
        fail(new NoNodeError(op.path));
        return;
      }
      if (op.version !== undefined && op.version !== node.version) {
        fail(new BadVersionError(op.path, op.version));
      }
      if (op.type === 'delete') {
        for (const p of [...this.nodes.keys(), ...overlay.keys()]) {
          if (isUnder(p, op.path)) {
            overlay.set(p, null);
          }
        }
      }
    });
    const changes: StoreChange[] = [];
    for (const op of ops) {
      switch (op.type) {
        case 'create':
          this.write(op.path, op.value, op.mode === 'EPHEMERAL' ? owner : null, changes);
          break;
        case 'setData':
          this.write(op.path, op.value, this.nodes.get(op.path)?.owner ?? null, changes);
          break;
        case 'delete':
          this.deleteTree(op.path, changes);
          break;
        case 'check':
          break;
      }
    }
    this.publish(changes);
  }

  private ensureParents(path: string, changes: StoreChange[]): void {
    for (const ancestor of ancestorsOf(path)) {
      if (!this.nodes.has(ancestor)) {
        this.write(ancestor, '', null, changes);
      }
    }
  }

  private write(path: string, value: string, owner: number | null, changes: StoreChange[]): void {
    const existing = this.nodes.get(path);
    this.revision++;
    const node: StoredNode = {
      value,
      version: existing === undefined ? 0 : existing.version + 1,
      stamp: this.revision,
      owner,
    };
    this.nodes.set(path, node);
    if (existing === undefined) {
      this.childIndex.add(path);
    }
    changes.push({ type: 'put', path, data: toData(node) });
  }

  private deleteTree(path: string, changes: StoreChange[]): void {
    if (path === '/' || !this.nodes.has(path)) {
      return;
    }
    for (const name of [...(this.childIndex.names(path) ?? [])]) {
      this.deleteTree(`${path}/${name}`, changes);
    }
    this.revision++;
    this.nodes.delete(path);
    this.childIndex.remove(path);
    changes.push({ type: 'delete', path });
  }

  private publish(changes: StoreChange[]): void {
    if (changes.length === 0) {
      return;
    }
    for (const listener of [...this.listeners]) {
      listener(changes);
    }
  }
}

function toData(node: StoredNode): NodeData {
  return {
    value: node.value,
    version: node.version,
    stamp: node.stamp,
    ephemeral: node.owner !== null,
  };
}
