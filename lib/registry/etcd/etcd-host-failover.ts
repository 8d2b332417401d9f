import {
  circuitBreaker,
  ConsecutiveBreaker,
  ConstantBackoff,
  handleWhen,
  noop,
  retry,
  type IDefaultPolicyContext,
  type IPolicy,
} from 'cockatiel';

/**
 * Host failover for a client given several etcd endpoints.
 *
 * etcd3 sends each call to a host drawn at random and, once a call has gone out, never tries another host.
 * Left at that, a member that is down (or a name that does not resolve) fails a third of all requests of a
 * client given three endpoints, for as long as it is down. What we do instead:
 * - a host whose last call could not be SENT (gRPC UNAVAILABLE "No connection established…" or "Name
 *   resolution failed…": no connection existed, so the server never saw the request) is skipped for
 *   `HOST_DOWN_MS`; then one call tests it again (a circuit breaker per host: one failure opens it, the
 *   half-open test closes it);
 * - such a call is sent again to another host, at once, up to one try per host. This is safe for every
 *   request, transactions included, because the first try provably never reached a server. Any other
 *   failure (a connection dropped while the call was in flight, a deadline, an etcd error) is ambiguous
 *   and goes to the caller unchanged, as before: our layer owns those retries.
 * With a single endpoint there is nothing to fail over to, and no policy at all is installed (a breaker
 * there would only turn a down server's fast errors into "circuit open" errors).
 */

/** How long a host that could not be reached is skipped before one call tests it again. */
export const HOST_DOWN_MS = 1_000;

const UNSENT = [/\bNo connection established\b/, /\bName resolution failed\b/];

/** True for a gRPC error raised before the request left the client (no connection to the host). */
export function isUnsentError(err: unknown): boolean {
  if (!(err instanceof Error)) {
    return false;
  }
  const code = (err as { code?: unknown }).code;
  const unavailable = code === undefined || code === 14;
  return (
    unavailable && /\bUNAVAILABLE\b/.test(err.message) && UNSENT.some(re => re.test(err.message))
  );
}

export interface HostFailoverPolicies {
  /** Wraps every unary call (etcd3 `faultHandling.global`). */
  global: IPolicy<IDefaultPolicyContext>;
  /** One per endpoint (etcd3 `faultHandling.host`); a policy that refuses a call makes etcd3 try the next host. */
  host: (hostname: string) => IPolicy<IDefaultPolicyContext>;
}

export function hostFailoverPolicies(hostCount: number): HostFailoverPolicies {
  if (hostCount <= 1) {
    return { global: noop, host: () => noop };
  }
  return {
    global: retry(handleWhen(isUnsentError), {
      // The first try plus one per other host; no wait: the next try goes to another host.
      maxAttempts: hostCount - 1,
      backoff: new ConstantBackoff(0),
    }),
    host: () =>
      circuitBreaker(handleWhen(isUnsentError), {
        halfOpenAfter: HOST_DOWN_MS,
        breaker: new ConsecutiveBreaker(1),
      }),
  };
}
