import { randomBytes } from "node:crypto";
import { normalizeSubpath } from "./access-config.js";

/**
 * The dev gateway's leases, in memory (cvmfs-formats.md §5.3, §8.5): 32-byte base32 tokens,
 * expiry at `now + maxLeaseTime` (not renewed by use), conflicts by *character* prefix in either
 * direction within a repository (so `/foo` blocks `/foobar`, as the gateway's SQL `LIKE` does),
 * and a `poisoned` flag set by a failed commit that makes every later commit on the lease fail.
 */
export interface Lease {
  token: string;
  fqrn: string;
  /** Leading `/`, e.g. `/.images/ab/cdef`, or `/` for the whole repository. */
  subpath: string;
  keyId: string;
  hostname: string;
  /** Epoch milliseconds. */
  expires: number;
  poisoned: boolean;
}

export type AcquireResult = { ok: true; lease: Lease } | { ok: false; remainingMs: number };

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** RFC 4648 base32 with padding (Go's `base32.StdEncoding`): 32 bytes → 56 chars ending `====`. */
export function base32Std(bytes: Uint8Array): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  while (out.length % 8 !== 0) out += "=";
  return out;
}

export class LeaseService {
  readonly #leases = new Map<string, Lease>();

  constructor(
    private readonly opts: {
      /** Lease lifetime in milliseconds (the gateway's `max_lease_time`, default 7200 s). */
      maxLeaseTimeMs?: number;
      now?: () => number;
    } = {},
  ) {}

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  /** Take a lease, or report how long the conflicting one still runs. */
  acquire(fqrn: string, subpath: string, keyId: string, hostname: string): AcquireResult {
    const path = normalizeSubpath(subpath);
    const now = this.now();
    this.expire(now);
    for (const l of this.#leases.values()) {
      if (l.fqrn === fqrn && (l.subpath.startsWith(path) || path.startsWith(l.subpath))) {
        return { ok: false, remainingMs: l.expires - now };
      }
    }
    const lease: Lease = {
      token: base32Std(randomBytes(32)),
      fqrn,
      subpath: path,
      keyId,
      hostname,
      expires: now + (this.opts.maxLeaseTimeMs ?? 7_200_000),
      poisoned: false,
    };
    this.#leases.set(lease.token, lease);
    return { ok: true, lease };
  }

  /** The live lease for `token`; undefined when unknown or expired (an expired one is removed). */
  get(token: string): Lease | undefined {
    this.expire(this.now());
    return this.#leases.get(token);
  }

  /** Remove a lease; false when there was none. */
  drop(token: string): boolean {
    return this.#leases.delete(token);
  }

  /** All live leases. */
  list(): Lease[] {
    this.expire(this.now());
    return [...this.#leases.values()];
  }

  private expire(now: number): void {
    for (const [token, l] of this.#leases) if (l.expires <= now) this.#leases.delete(token);
  }
}

/** Go's `time.Time.String()` shape in UTC, as GET /leases shows `expires` (§8.8). */
export function goTimeString(epochMs: number): string {
  const iso = new Date(epochMs).toISOString(); // 2026-11-24T06:21:50.213Z
  const frac = iso.slice(20, 23).replace(/0+$/, "");
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac ? `.${frac}` : ""} +0000 UTC`;
}
