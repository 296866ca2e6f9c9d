/**
 * Options of the registry client, field by field, and the one function that fills defaults.
 */
import { Agent, type Dispatcher } from "undici";
import { silentLogger, type Logger } from "../logger.js";
import { RETRY_DEFAULTS } from "../retry.js";
import type { RegistryCredential } from "./credentials.js";

export interface RegistryClientOptions {
  /** `HOST:PORT` of registries spoken to over plain HTTP (e.g. `127.0.0.1:5000`); HTTPS otherwise. */
  insecureRegistries?: readonly string[];
  /**
   * docker config.json with credentials (`--registry-auth FILE`). Default: `$REGISTRY_AUTH_FILE`,
   * else `$DOCKER_CONFIG/config.json` or `~/.docker/config.json` if present. `false`: none.
   */
  authFile?: string | false;
  /** Credentials by registry host (`docker.io`, `ghcr.io`, `127.0.0.1:5000`); win over the file. */
  credentials?: Readonly<Record<string, RegistryCredential>>;
  /** Where progress, retries and auth events go. Default: silent. */
  logger?: Logger;
  /** Concurrent requests per registry (waiting for response headers). Default 8. */
  concurrency?: number;
  /** Further tries after a retryable failure (5xx, 429, reset, corrupt small body). Default 4. */
  retries?: number;
  /** First backoff step; doubles per try, full jitter. Default 250 ms. */
  retryBaseMs?: number;
  /** Largest backoff step. Default 10 s. */
  retryMaxMs?: number;
  /** Cap on a server's `Retry-After`. Default 60 s. */
  maxRetryAfterMs?: number;
  /** Time to wait for response headers. Default 30 s. */
  headersTimeoutMs?: number;
  /** Longest silence while reading a body. Default 60 s. */
  bodyTimeoutMs?: number;
  /** Redirects followed per request (blob storage). Default 5. */
  maxRedirects?: number;
  /** Least time between two `layer.progress` events of one blob. Default 1000 ms. */
  progressIntervalMs?: number;
  /** Page size asked for when listing tags. Default 100. */
  tagPageSize?: number;
  userAgent?: string;
  /** HTTP dispatcher; default: a keep-alive undici Agent owned (and closed) by the client. */
  dispatcher?: Dispatcher;
}

export type ResolvedRegistryClientOptions = Required<Omit<RegistryClientOptions, "authFile" | "credentials">> & {
  authFile: string | false | undefined;
  credentials: Readonly<Record<string, RegistryCredential>>;
  /** True when `dispatcher` was made here and must be closed with the client. */
  ownsDispatcher: boolean;
};

/** Fill every default. The Agent keeps connections alive, so a re-sync reuses them across tags. */
export function fillRegistryClientOptions(options: RegistryClientOptions = {}): ResolvedRegistryClientOptions {
  const headersTimeoutMs = options.headersTimeoutMs ?? 30_000;
  const bodyTimeoutMs = options.bodyTimeoutMs ?? 60_000;
  return {
    insecureRegistries: options.insecureRegistries ?? [],
    authFile: options.authFile,
    credentials: options.credentials ?? {},
    logger: options.logger ?? silentLogger,
    concurrency: options.concurrency ?? 8,
    retries: options.retries ?? RETRY_DEFAULTS.retries,
    retryBaseMs: options.retryBaseMs ?? RETRY_DEFAULTS.baseMs,
    retryMaxMs: options.retryMaxMs ?? RETRY_DEFAULTS.maxMs,
    maxRetryAfterMs: options.maxRetryAfterMs ?? 60_000,
    headersTimeoutMs,
    bodyTimeoutMs,
    maxRedirects: options.maxRedirects ?? 5,
    progressIntervalMs: options.progressIntervalMs ?? 1000,
    tagPageSize: options.tagPageSize ?? 100,
    userAgent: options.userAgent ?? "cvmfs-image-sync",
    dispatcher:
      options.dispatcher ??
      new Agent({ keepAliveTimeout: 30_000, connections: 16, headersTimeout: headersTimeoutMs, bodyTimeout: bodyTimeoutMs }),
    ownsDispatcher: options.dispatcher === undefined,
  };
}
