/**
 * Registry credentials from a docker `config.json` (`auths` section): base64 `auth`,
 * `username`/`password`, or an `identitytoken` (an OAuth2 refresh token). Keys are normalised to
 * the registry host as image references name it (`https://index.docker.io/v1/` → `docker.io`).
 * Credential helpers (`credsStore`) are not run: a CI job passes a file.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../errors.js";
import { DockerConfigFile } from "./schema.js";

/** What we may send a registry (or its token server). Never logged. */
export type RegistryCredential =
  | { kind: "basic"; username: string; password: string }
  | { kind: "identity-token"; token: string; username?: string };

/** Registry host → credential. */
export type CredentialMap = ReadonlyMap<string, RegistryCredential>;

/** `https://index.docker.io/v1/`, `http://h:5000/x` → `docker.io`, `h:5000`. */
export function normalizeAuthKey(key: string): string {
  const host = key.replace(/^[a-z]+:\/\//i, "").split("/")[0]!.toLowerCase();
  return host === "index.docker.io" || host === "registry-1.docker.io" || host === "registry.hub.docker.com" ? "docker.io" : host;
}

/** Parse config.json text; `file` only names the source in errors (never the secrets). */
export function parseDockerConfig(text: string, file: string): Map<string, RegistryCredential> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigError(`registry auth file ${file} is not valid JSON`);
  }
  const parsed = DockerConfigFile.safeParse(json);
  if (!parsed.success) throw new ConfigError(`registry auth file ${file} does not have the docker config.json shape`);
  const out = new Map<string, RegistryCredential>();
  for (const [key, entry] of Object.entries(parsed.data.auths ?? {})) {
    let username = entry.username;
    let password = entry.password;
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon < 0) throw new ConfigError(`registry auth file ${file}: "auth" of ${normalizeAuthKey(key)} is not base64 of user:password`);
      username = decoded.slice(0, colon);
      password = decoded.slice(colon + 1);
    }
    if (entry.identitytoken) {
      out.set(normalizeAuthKey(key), { kind: "identity-token", token: entry.identitytoken, ...(username ? { username } : {}) });
    } else if (username !== undefined && password !== undefined && (username !== "" || password !== "")) {
      out.set(normalizeAuthKey(key), { kind: "basic", username, password });
    }
  }
  return out;
}

/** Read and parse an auth file; a missing or unreadable file is a ConfigError. */
export async function loadAuthFile(file: string): Promise<Map<string, RegistryCredential>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    throw new ConfigError(`cannot read registry auth file ${file}`, { cause });
  }
  return parseDockerConfig(text, file);
}

/**
 * The auth file to use when none was named: `$REGISTRY_AUTH_FILE`, else `$DOCKER_CONFIG/config.json`,
 * else `~/.docker/config.json` — the last two only when they exist.
 */
export function defaultAuthFile(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string | undefined {
  if (env["REGISTRY_AUTH_FILE"]) return env["REGISTRY_AUTH_FILE"];
  const candidate = env["DOCKER_CONFIG"] ? join(env["DOCKER_CONFIG"], "config.json") : join(home, ".docker", "config.json");
  return existsSync(candidate) ? candidate : undefined;
}
