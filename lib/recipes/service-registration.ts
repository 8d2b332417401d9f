import { ClosedError, InvalidArgumentError, NoNodeError } from '../errors';
import { joinPath, validateNodePath, validateSegment } from '../internal/paths';
import { TypedEmitter } from '../internal/typed-emitter';
import type { ConnectionState, CoordinatorRegistryCenter } from '../registry/registry-center';
import { isUsable, reportError } from './recipe-support';

/** Default directory of service registrations: `/services/<name>/<id>`. */
export const DEFAULT_SERVICES_ROOT = '/services';
/** Back-off before retrying a failed re-registration while the connection looks fine. */
const RETRY_MS = 1_000;

/** One registered instance of a service, as stored (JSON) and as discovered. */
export interface ServiceInstance {
  id: string;
  name: string;
  endpoint: string;
  metadata: Record<string, unknown>;
  registeredAt: number;
}

export interface ServiceRegistrationOptions {
  /** Unique id of this instance within the service (e.g. pod name). */
  id: string;
  /** How to reach it, e.g. `http://10.0.0.7:8080`. */
  endpoint: string;
  /** Free-form JSON-serialisable data (version, zone, weight...). Default `{}`. */
  metadata?: Record<string, unknown>;
  /** Parent of the service directories. Default `/services`. */
  root?: string;
}

export interface ServiceRegistrationEvents {
  /** The node was (re-)written; carries the registry's session epoch at that time. */
  registered: [number];
  /** A background re-registration failed (retried on the next reconnection or after a back-off). */
  error: [Error];
}

/**
 * An ephemeral node `root/<name>/<id>` announcing one service instance (DolphinScheduler's
 * `put(key, value, deleteOnDisconnect=true)`, a jetcd lease-bound key with keep-alive).
 *
 * ```ts
 * const reg = await registerService(registry, 'billing', { id: 'pod-a', endpoint: 'http://10.0.0.7:8080' });
 * await reg.update({ metadata: { draining: true } });
 * await reg.close(); // deregistered at once
 * ```
 *
 * Failure semantics: the node lives as long as the client's session (ZooKeeper session / etcd lease).
 * After LOST the registry builds a new session and reports RECONNECTED; the registration then writes its
 * node again (a failed write is retried after a back-off and reported as `'error'`). Between LOST and
 * that write, discoverers do not see this instance. `close()` deletes the node (idempotent).
 */
export class ServiceRegistration extends TypedEmitter<ServiceRegistrationEvents> {
  readonly path: string;
  private instance: ServiceInstance;
  private registeredEpoch = -1;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private readonly onState = (state: ConnectionState): void => {
    if (state === 'RECONNECTED' && this.registry.sessionEpoch !== this.registeredEpoch) {
      this.reRegister();
    }
  };

  constructor(
    private readonly registry: CoordinatorRegistryCenter,
    readonly name: string,
    options: ServiceRegistrationOptions,
  ) {
    super();
    validateSegment(name, 'service name');
    validateSegment(options.id, 'service instance id');
    if (typeof options.endpoint !== 'string' || options.endpoint === '') {
      throw new InvalidArgumentError('endpoint must be a non-empty string');
    }
    const root = validateNodePath(options.root ?? DEFAULT_SERVICES_ROOT);
    this.path = joinPath(root, name, options.id);
    this.instance = {
      id: options.id,
      name,
      endpoint: options.endpoint,
      metadata: options.metadata ?? {},
      registeredAt: Date.now(),
    };
  }

  /** What is (or will be) stored in the node. */
  get current(): Readonly<ServiceInstance> {
    return this.instance;
  }

  /** Write the node and start following the session; rejects when the first write fails. */
  async start(): Promise<void> {
    this.ensureOpen();
    this.registry.on('connectionStateChanged', this.onState);
    try {
      await this.write();
    } catch (err) {
      this.registry.off('connectionStateChanged', this.onState);
      throw err;
    }
  }

  /** Change the endpoint and/or metadata; discoverers see an `updated` event. */
  async update(change: { endpoint?: string; metadata?: Record<string, unknown> }): Promise<void> {
    this.ensureOpen();
    this.instance = { ...this.instance, ...change };
    await this.write(true);
  }

  /** Delete the node and stop re-registering. Idempotent; later calls reject with `ClosedError`. */
  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    this.closed = true;
    this.registry.off('connectionStateChanged', this.onState);
    clearTimeout(this.retryTimer);
    await this.writing.catch(() => undefined);
    if (this.registry.connectionState !== 'CLOSED') {
      await this.registry.remove(this.path);
    }
  }

  /**
   * Write our node: in place (`update`, which keeps it ephemeral and reads as one `updated`) when it
   * exists in the current session, else (re-)create it with `persistEphemeral`.
   */
  private write(inPlace = false): Promise<void> {
    const next = this.writing
      .catch(() => undefined)
      .then(async () => {
        if (this.closed) {
          return;
        }
        const epoch = this.registry.sessionEpoch;
        const value = JSON.stringify(this.instance);
        if (inPlace && epoch === this.registeredEpoch) {
          try {
            await this.registry.update(this.path, value);
            return;
          } catch (err) {
            if (!(err instanceof NoNodeError)) {
              throw err;
            }
          }
        }
        await this.registry.persistEphemeral(this.path, value);
        this.registeredEpoch = epoch;
        this.emit('registered', epoch);
      });
    this.writing = next;
    return next;
  }

  private reRegister(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.write().catch((err: unknown) => {
      if (this.closed) {
        return;
      }
      reportError(this, e => this.emit('error', e), err);
      if (isUsable(this.registry.connectionState)) {
        this.retryTimer = setTimeout(() => this.reRegister(), RETRY_MS);
        this.retryTimer.unref();
      } // else: the next RECONNECTED of a new session retries
    });
  }

  private ensureOpen(): void {
    if (this.closed) {
      throw new ClosedError(`service registration ${this.path}`);
    }
  }
}

/** Register `name`/`options.id` as an ephemeral node; resolves once written. */
export async function registerService(
  registry: CoordinatorRegistryCenter,
  name: string,
  options: ServiceRegistrationOptions,
): Promise<ServiceRegistration> {
  const registration = new ServiceRegistration(registry, name, options);
  await registration.start();
  return registration;
}
