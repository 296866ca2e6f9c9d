/**
 * Platform choice from an image index, matching as containerd's default matcher does: OS and
 * architecture names normalised (x86_64 → amd64, aarch64 → arm64), arm64 without variant means
 * v8, arm without variant means v7, and an arm variant also runs older ones (v7 runs v6 and v5)
 * — the best, newest match wins. Entries with platform `unknown/unknown` (attestations) never match.
 */
import { ConfigError } from "../errors.js";
import type { Platform } from "./image.js";

/** The default platform: linux/amd64. */
export const DEFAULT_PLATFORM: Platform = { os: "linux", architecture: "amd64" };

/** Normalise names and default variants the way containerd's `platforms.Normalize` does. */
export function normalizePlatform(p: Platform): Platform {
  const os = p.os.toLowerCase();
  let architecture = p.architecture.toLowerCase();
  let variant = p.variant?.toLowerCase();
  if (architecture === "x86_64" || architecture === "x86-64") architecture = "amd64";
  if (architecture === "i386") architecture = "386";
  if (architecture === "aarch64") architecture = "arm64";
  if (architecture === "armhf") {
    architecture = "arm";
    variant = "v7";
  }
  if (architecture === "armel") {
    architecture = "arm";
    variant = "v6";
  }
  if (architecture === "amd64" && variant === "v1") variant = undefined;
  if (architecture === "arm64" && (variant === undefined || variant === "8")) variant = "v8";
  if (architecture === "arm" && variant === undefined) variant = "v7";
  if (architecture === "arm" && /^[5-8]$/.test(variant ?? "")) variant = `v${variant}`;
  return { os, architecture, ...(variant ? { variant } : {}) };
}

/** Parse `os/arch[/variant]`; throws ConfigError for anything else. */
export function parsePlatform(text: string): Platform {
  const parts = text.trim().split("/");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === "")) {
    throw new ConfigError(`invalid platform "${text}": expected os/arch[/variant], e.g. linux/amd64`);
  }
  return normalizePlatform({ os: parts[0]!, architecture: parts[1]!, ...(parts[2] ? { variant: parts[2] } : {}) });
}

/**
 * How well `have` serves `want`: 0 is a perfect match, larger is worse, undefined is no match.
 * An arm variant serves older arm variants, ranked by distance.
 */
export function platformRank(want: Platform, have: Platform): number | undefined {
  const w = normalizePlatform(want);
  const h = normalizePlatform(have);
  if (w.os !== h.os || w.architecture !== h.architecture) return undefined;
  if (w.variant === h.variant) return 0;
  if (w.architecture === "arm" && w.variant && h.variant) {
    const wv = Number(w.variant.slice(1));
    const hv = Number(h.variant.slice(1));
    if (hv < wv && hv >= 5) return wv - hv;
  }
  // A wanted platform without a variant accepts any variant of its architecture (amd64/v2…).
  if (w.variant === undefined) return 10;
  return undefined;
}

/** Index of the best entry of `candidates` for `want`, or -1. Earlier entries win ties. */
export function choosePlatform(want: Platform, candidates: readonly (Platform | undefined)[]): number {
  let best = -1;
  let bestRank = Infinity;
  candidates.forEach((c, i) => {
    if (!c || c.os === "unknown") return;
    const rank = platformRank(want, c);
    if (rank !== undefined && rank < bestRank) {
      best = i;
      bestRank = rank;
    }
  });
  return best;
}
