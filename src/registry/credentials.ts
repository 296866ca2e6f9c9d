/**
 * Registry credentials from a docker `config.json`, resolved per registry host as docker does it:
 * - `credHelpers: { host: suffix }` names the helper for one registry, else `credsStore: suffix`
 *   names it for all. A configured helper wins over `auths`, and its "credentials not found"
 *   answer means anonymous, not a fall back to `auths` (docker/cli `nativeStore.Get`).
 * - A helper is the executable `docker-credential-<suffix>` on PATH, run without a shell as
 *   `… get` with the server URL on stdin (`https://index.docker.io/v1/` for Docker Hub, the bare
 *   `host[:port]` otherwise); it prints `{"ServerURL","Username","Secret"}`. Username `<token>`
 *   makes the secret an identity token. Helpers run only for the hosts a run contacts, once per
 *   host, since one may be slow or ask the user something.
 * - `auths`: base64 `auth`, `username`/`password`, or an `identitytoken` (an OAuth2 refresh token).
 * Keys are normalised to the registry host as image references name it
 * (`https://index.docker.io/v1/` → `docker.io`). Secrets never reach errors or logs, and neither
 * does a helper's output, which may hold them.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { ConfigError } from "../errors.js";
import { CredentialHelperAnswer, DockerConfigFile } from "./schema.js";

/** What we may send a registry (or its token server). Never logged. */
export type RegistryCredential =
  | { kind: "basic"; username: string; password: string }
  | { kind: "identity-token"; token: string; username?: string };

/** `https://index.docker.io/v1/`, `http://h:5000/x` → `docker.io`, `h:5000`. */
export function normalizeAuthKey(key: string): string {
  const host = key.replace(/^[a-z]+:\/\//i, "").split("/")[0]!.toLowerCase();
  return host === "index.docker.io" || host === "registry-1.docker.io" || host === "registry.hub.docker.com" ? "docker.io" : host;
}

/** The credential part of a docker config.json, keys normalised to registry hosts. */
export interface DockerCredentialConfig {
  /** Credentials stored in the file (`auths`). */
  auths: Map<string, RegistryCredential>;
  /** Helper suffix used for every host without a `credHelpers` entry (`credsStore`). */
  credsStore?: string;
  /** Host → helper suffix (`credHelpers`); an empty suffix: no helper for that host. */
  credHelpers: Map<string, string>;
}

// A suffix becomes part of an executable name looked up on PATH: a separator would make it a path.
const HELPER_SUFFIX = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function checkSuffix(suffix: string, where: string, file: string): string {
  if (!HELPER_SUFFIX.test(suffix)) throw new ConfigError(`registry auth file ${file}: ${where} "${suffix}" is not a credential helper name`);
  return suffix;
}

/** Parse config.json text, helpers included; `file` only names the source in errors (never the secrets). */
export function parseDockerCredentialConfig(text: string, file: string): DockerCredentialConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigError(`registry auth file ${file} is not valid JSON`);
  }
  const parsed = DockerConfigFile.safeParse(json);
  if (!parsed.success) throw new ConfigError(`registry auth file ${file} does not have the docker config.json shape`);
  const auths = new Map<string, RegistryCredential>();
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
      auths.set(normalizeAuthKey(key), { kind: "identity-token", token: entry.identitytoken, ...(username ? { username } : {}) });
    } else if (username !== undefined && password !== undefined && (username !== "" || password !== "")) {
      auths.set(normalizeAuthKey(key), { kind: "basic", username, password });
    }
  }
  const credHelpers = new Map<string, string>();
  for (const [key, suffix] of Object.entries(parsed.data.credHelpers ?? {})) {
    // An empty entry is kept: it means "no helper for this registry", not even credsStore.
    credHelpers.set(normalizeAuthKey(key), suffix === "" ? "" : checkSuffix(suffix, `credHelpers of ${normalizeAuthKey(key)}`, file));
  }
  const store = parsed.data.credsStore;
  return { auths, credHelpers, ...(store ? { credsStore: checkSuffix(store, "credsStore", file) } : {}) };
}

/** Parse config.json text into its stored `auths` (helpers are not run); see parseDockerCredentialConfig. */
export function parseDockerConfig(text: string, file: string): Map<string, RegistryCredential> {
  return parseDockerCredentialConfig(text, file).auths;
}

/** Read and parse an auth file, helpers included; a missing or unreadable file is a ConfigError. */
export async function loadDockerCredentialConfig(file: string): Promise<DockerCredentialConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    throw new ConfigError(`cannot read registry auth file ${file}`, { cause });
  }
  return parseDockerCredentialConfig(text, file);
}

/** Read and parse an auth file's `auths`; a missing or unreadable file is a ConfigError. */
export async function loadAuthFile(file: string): Promise<Map<string, RegistryCredential>> {
  return (await loadDockerCredentialConfig(file)).auths;
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

/** The server URL docker hands a helper for `registry`: Docker Hub keeps its historical index URL. */
export function helperServerUrl(registry: string): string {
  return registry === "docker.io" ? "https://index.docker.io/v1/" : registry;
}

/**
 * The helper suffix docker would run for `registry`: its `credHelpers` entry, else `credsStore`.
 * An empty entry names no helper at all, so `auths` applies to that registry (as in docker).
 */
export function helperFor(config: DockerCredentialConfig, registry: string): string | undefined {
  if (config.credHelpers.has(registry)) return config.credHelpers.get(registry) || undefined;
  return config.credsStore;
}

/** The credential a helper's answer stands for (`<token>` marks an identity token); undefined when empty. */
export function credentialFromHelperAnswer(answer: CredentialHelperAnswer): RegistryCredential | undefined {
  if (answer.Username === "<token>") return answer.Secret !== "" ? { kind: "identity-token", token: answer.Secret } : undefined;
  if (answer.Username === "" && answer.Secret === "") return undefined;
  return { kind: "basic", username: answer.Username, password: answer.Secret };
}

/** The message every helper built on docker-credential-helpers prints when it holds nothing for a server. */
const NOT_FOUND = "credentials not found in native keychain";

/** How long a helper may take; generous, since one may unlock a keychain or call a cloud API. */
export const DEFAULT_HELPER_TIMEOUT_MS = 30_000;

export interface CredentialHelperOptions {
  /** Default DEFAULT_HELPER_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Where the helper was configured (the auth file), for messages. */
  source?: string;
}

/**
 * Run `docker-credential-<suffix> get` for `registry` (no shell, server URL on stdin). Undefined
 * when the helper answers "credentials not found" (anonymous, as docker does); ConfigError naming
 * helper and host for anything else that goes wrong. Its output never reaches the error: on
 * failure it may still hold a secret.
 */
export async function runCredentialHelper(suffix: string, registry: string, options: CredentialHelperOptions = {}): Promise<RegistryCredential | undefined> {
  const program = `docker-credential-${suffix}`;
  const timeoutMs = options.timeoutMs ?? DEFAULT_HELPER_TIMEOUT_MS;
  const what = `credential helper ${program} for ${registry}${options.source ? ` (configured in ${options.source})` : ""}`;
  const result = await execa(program, ["get"], {
    input: helperServerUrl(registry),
    stdout: "pipe",
    stderr: "ignore",
    reject: false,
    timeout: timeoutMs,
    maxBuffer: 1024 * 1024,
    stripFinalNewline: false,
  });
  const errno = (result as { code?: unknown }).code;
  if (errno === "ENOENT") throw new ConfigError(`${what}: ${program} is not on PATH; install it or remove it from the auth file`);
  if (errno === "EACCES") throw new ConfigError(`${what}: ${program} is not executable`);
  if (result.timedOut) throw new ConfigError(`${what}: no answer within ${Math.round(timeoutMs / 1000)} s`);
  const stdout = typeof result.stdout === "string" ? result.stdout : "";
  if (result.exitCode !== 0) {
    if (stdout.trim() === NOT_FOUND) return undefined;
    const how = result.exitCode !== undefined ? `exited with status ${result.exitCode}` : result.signal ? `was killed by ${result.signal}` : `failed (${String(errno ?? "unknown")})`;
    throw new ConfigError(`${what}: ${how}`);
  }
  let answer: CredentialHelperAnswer;
  try {
    answer = CredentialHelperAnswer.parse(JSON.parse(stdout));
  } catch {
    throw new ConfigError(`${what}: the answer is not credentials JSON ({"Username","Secret"})`);
  }
  return credentialFromHelperAnswer(answer);
}

export interface CredentialStoreOptions extends CredentialHelperOptions {
  /** Credentials by registry host that win over the config (the client's `credentials` option). */
  explicit?: Readonly<Record<string, RegistryCredential>>;
}

/**
 * Credentials per registry host, in docker's order: an explicit one; else the config's helper for
 * the host, run on first request and its answer (or failure) kept, one run per host however many
 * requests ask at once; else the config's `auths` entry; else none (anonymous).
 */
export class CredentialStore {
  private readonly helperAnswers = new Map<string, Promise<RegistryCredential | undefined>>();

  constructor(
    private readonly config: DockerCredentialConfig | undefined,
    private readonly options: CredentialStoreOptions = {},
  ) {}

  /** The credential for `registry` (a host as references name it); undefined: anonymous. */
  get(registry: string): Promise<RegistryCredential | undefined> {
    const explicit = this.options.explicit;
    if (explicit && Object.hasOwn(explicit, registry)) return Promise.resolve(explicit[registry]);
    const suffix = this.config && helperFor(this.config, registry);
    if (!suffix) return Promise.resolve(this.config?.auths.get(registry));
    let answer = this.helperAnswers.get(registry);
    if (!answer) {
      const { timeoutMs, source } = this.options;
      answer = runCredentialHelper(suffix, registry, { ...(timeoutMs !== undefined ? { timeoutMs } : {}), ...(source ? { source } : {}) });
      this.helperAnswers.set(registry, answer);
    }
    return answer;
  }
}
