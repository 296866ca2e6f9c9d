import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { ConfigError } from "../errors.js";
import { GatewayKey, readGatewayKey } from "./key-file.js";
import { AccessConfigFile } from "./schema.js";

/**
 * Who may lease what (cvmfs-formats.md §5.2): repositories, the keys allowed on each, and the
 * subtree each key is restricted to. Read from the gateway's `repo.json` (version 2), or built in
 * code for `serve --gateway-key`.
 */
export interface AccessConfig {
  /** Keys by id. */
  keys: Map<string, GatewayKey>;
  /** fqrn → key id → the subpath (leading `/`) the key may lease under. */
  repos: Map<string, Map<string, string>>;
}

/** Result of {@link checkAccess}: the gateway's `Check` reasons. */
export type AccessDecision = "ok" | "invalid_repo" | "invalid_key" | "invalid_path";

/** A configuration with one repository and one key allowed everywhere in it. */
export function singleKeyAccess(fqrn: string, key: GatewayKey, path = "/"): AccessConfig {
  return { keys: new Map([[key.id, key]]), repos: new Map([[fqrn, new Map([[key.id, path]])]]) };
}

/**
 * Read a `repo.json` v2 file. `{"type":"file","file_name"}` keys are key files resolved
 * relative to the config's directory. Errors name the file, never a secret.
 */
export async function readAccessConfig(path: string): Promise<AccessConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, "utf8"));
  } catch (cause) {
    throw new ConfigError(`read gateway access config ${path}: ${(cause as Error).message}`);
  }
  const parsed = AccessConfigFile.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(`gateway access config ${path}: not a version 2 repo.json (${parsed.error.issues[0]?.path.join(".")})`);
  }
  const keys = new Map<string, GatewayKey>();
  for (const k of parsed.data.keys) {
    const key = k.type === "plain_text" ? new GatewayKey(k.id, k.secret) : await readGatewayKey(resolve(dirname(path), k.file_name));
    keys.set(key.id, key);
  }
  const repos = new Map<string, Map<string, string>>();
  for (const r of parsed.data.repos) {
    repos.set(r.domain, new Map(r.keys.map((k) => [k.id, normalizeSubpath(k.path)])));
  }
  return { keys, repos };
}

/**
 * May `keyId` lease `subpath` of `fqrn`? A key restricted to `/a/b` may lease `/a/b` and
 * anything below it, as the gateway's `Check` does with a path prefix on components.
 */
export function checkAccess(config: AccessConfig, fqrn: string, keyId: string, subpath: string): AccessDecision {
  const repo = config.repos.get(fqrn);
  if (!repo) return "invalid_repo";
  const allowed = repo.get(keyId);
  if (allowed === undefined || !config.keys.has(keyId)) return "invalid_key";
  const path = normalizeSubpath(subpath);
  if (allowed === "/" || path === allowed || path.startsWith(`${allowed}/`)) return "ok";
  return "invalid_path";
}

/** `/a/b` form: one leading slash, no trailing slash (except the root itself). */
export function normalizeSubpath(path: string): string {
  const trimmed = `/${path}`.replace(/\/+/g, "/").replace(/\/$/, "");
  return trimmed === "" ? "/" : trimmed;
}
