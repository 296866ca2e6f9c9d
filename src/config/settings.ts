import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { ConfigError } from "../errors.js";
import type { Platform } from "../registry/image.js";

/**
 * Settings shared by every command, after flags, environment (`CVMFS_IMAGE_SYNC_<FLAG>`, which is
 * how the GitLab template passes CI/CD variables) and defaults have been merged and checked.
 */
export interface CommonSettings {
  /** Repository fqrn, e.g. `images.local`, `singularity.opensciencegrid.org`. */
  repo: string;
  /** Where `<repo>.masterkey`, `.pub`, `.key`, `.crt` live (created on first publish). */
  keysDir: string;
  logFormat: "text" | "json";
  /** Images (sync) or layers (convert) worked on at once. */
  concurrency: number;
  /** The default platform: the first of `platforms`; today's public names carry it. */
  platform: Platform;
  /**
   * Every platform wanted (`--platforms`, else just `--platform`), default first. With more than
   * one, each image is also published per architecture (see layout.ts `archPath`).
   */
  platforms: Platform[];
  /** docker config.json with registry credentials, if any. */
  registryAuth?: string;
  /** HOST:PORT of registries spoken to over plain HTTP. */
  insecureRegistries: string[];
  /** Layer cache (layer results by digest): kept between CI jobs by the template's `cache:`. */
  cacheDir: string;
}

/** Where a command publishes to or reads from: a local stratum 0 or a gateway + a stratum 0/1 URL. */
export type RepositoryTarget =
  | { kind: "local"; stratum0: string }
  | { kind: "gateway"; gatewayUrl: string; gatewayKeyFile: string; repoUrl: string };

/** Raw option values as commander hands them over (strings, arrays, undefined). */
export interface RawCommonOptions {
  repo?: string;
  keysDir?: string;
  logFormat?: string;
  concurrency?: string | number;
  platform?: string;
  /** `--platforms`: comma or space separated; overrides `--platform`. */
  platforms?: string;
  registryAuth?: string;
  insecureRegistry?: string[];
  cacheDir?: string;
}

const FQRN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/;

/** Parses `os/arch[/variant]`; throws ConfigError naming the bad value. */
export function parsePlatform(text: string): Platform {
  const parts = text.split("/");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/.test(p))) {
    throw new ConfigError(`--platform "${text}" is not os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8`);
  }
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  return variant ? { os, architecture, variant } : { os, architecture };
}

function uniquePlatforms(list: readonly Platform[]): Platform[] {
  const seen = new Set<string>();
  return list.filter((p) => {
    const key = `${p.os}/${p.architecture}/${p.variant ?? ""}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Splits list-valued environment variables: comma, space or newline separated. */
export function splitList(values: string[] | string | undefined): string[] {
  if (values === undefined) return [];
  const list = Array.isArray(values) ? values : [values];
  return list.flatMap((v) => v.split(/[\s,]+/)).filter((v) => v !== "");
}

/** Fills defaults and validates; every problem is a ConfigError (exit code 2). */
export function resolveCommonSettings(raw: RawCommonOptions, env: NodeJS.ProcessEnv = process.env): CommonSettings {
  const repo = raw.repo ?? "images.local";
  if (!FQRN.test(repo)) {
    throw new ConfigError(`--repo "${repo}" is not a repository name like images.example.org`);
  }
  const concurrency = Number(raw.concurrency ?? 4);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) {
    throw new ConfigError(`--concurrency must be a whole number from 1 to 256, got "${raw.concurrency}"`);
  }
  const logFormat = raw.logFormat ?? "text";
  if (logFormat !== "text" && logFormat !== "json") {
    throw new ConfigError(`--log-format must be text or json, got "${logFormat}"`);
  }
  const registryAuth = raw.registryAuth ?? env["REGISTRY_AUTH_FILE"];
  const listed = splitList(raw.platforms).map(parsePlatform);
  if (raw.platforms !== undefined && listed.length === 0) throw new ConfigError("--platforms is empty: give os/arch[/variant] values, e.g. linux/amd64,linux/arm64");
  const platforms = listed.length > 0 ? uniquePlatforms(listed) : [parsePlatform(raw.platform ?? "linux/amd64")];
  return {
    repo,
    keysDir: resolve(raw.keysDir ?? "keys"),
    logFormat,
    concurrency,
    platform: platforms[0]!,
    platforms,
    ...(registryAuth ? { registryAuth: resolve(registryAuth) } : {}),
    insecureRegistries: splitList(raw.insecureRegistry),
    cacheDir: raw.cacheDir
      ? resolve(raw.cacheDir)
      : join(env["XDG_CACHE_HOME"] ?? join(homedir(), ".cache"), "cvmfs-image-sync"),
  };
}

/** Picks local or gateway publishing from the flags; mixing them is a configuration error. */
export function resolveTarget(
  raw: { stratum0?: string; gateway?: string; gatewayKey?: string; repoUrl?: string },
  repo: string,
): RepositoryTarget {
  if (raw.gateway !== undefined || raw.gatewayKey !== undefined) {
    if (raw.stratum0 !== undefined) throw new ConfigError("give either --stratum0 or --gateway, not both");
    const missing = [
      raw.gateway === undefined ? "--gateway URL" : "",
      raw.gatewayKey === undefined ? "--gateway-key FILE" : "",
      raw.repoUrl === undefined ? "--repo-url URL (the stratum 0/1 to read the published state from)" : "",
    ].filter((m) => m !== "");
    if (missing.length > 0) throw new ConfigError(`publishing through a gateway needs ${missing.join(", ")}`);
    return { kind: "gateway", gatewayUrl: raw.gateway!, gatewayKeyFile: resolve(raw.gatewayKey!), repoUrl: raw.repoUrl! };
  }
  return { kind: "local", stratum0: resolve(raw.stratum0 ?? join("stratum0", repo)) };
}
