import { readFile } from "node:fs/promises";
import { inspect } from "node:util";
import { ConfigError } from "../errors.js";
import { hmacSign, hmacVerify } from "./hmac.js";

/**
 * A gateway key: an id and a shared secret (cvmfs-formats.md §5.2). The secret lives in a
 * private field and never leaves the object: it signs and verifies, and JSON, `util.inspect`,
 * `String()` and error messages show only the id. This is what keeps it out of logs, the JSON
 * event log and test snapshots.
 */
export class GatewayKey {
  readonly #secret: string;

  constructor(
    readonly id: string,
    secret: string,
  ) {
    if (!/^\S+$/.test(id)) throw new ConfigError("gateway key id must be one non-empty word");
    if (secret.length === 0) throw new ConfigError(`gateway key ${id}: empty secret`);
    this.#secret = secret;
  }

  /** `Authorization` header value for `message`. */
  authorization(message: string | Uint8Array): string {
    return `${this.id} ${hmacSign(this.#secret, message)}`;
  }

  /** Whether `signature` is this key's signature of `message`. */
  verify(message: string | Uint8Array, signature: string): boolean {
    return hmacVerify(this.#secret, message, signature);
  }

  toJSON(): { id: string } {
    return { id: this.id };
  }

  toString(): string {
    return `GatewayKey(${this.id})`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/**
 * Parse key file text: the first line is `plain_text KEY_ID SECRET`, whitespace-separated, as
 * `/etc/cvmfs/keys/<fqrn>.gw` and the gateway's key files. `what` names the source in errors;
 * errors never quote the line, because it holds the secret.
 */
export function parseGatewayKey(text: string, what = "gateway key"): GatewayKey {
  const first = text.split(/\r?\n/, 1)[0] ?? "";
  const parts = first.trim().split(/\s+/);
  if (parts.length < 3 || parts[0] !== "plain_text" || !parts[1] || !parts[2]) {
    throw new ConfigError(`${what}: expected a first line "plain_text KEY_ID SECRET"`);
  }
  if (parts.length > 3) throw new ConfigError(`${what}: the secret must not contain whitespace`);
  return new GatewayKey(parts[1], parts[2]);
}

/** Read a key file from `path` (see {@link parseGatewayKey}). */
export async function readGatewayKey(path: string): Promise<GatewayKey> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw new ConfigError(`read gateway key ${path}: ${(cause as Error).message}`);
  }
  return parseGatewayKey(text, `gateway key ${path}`);
}
