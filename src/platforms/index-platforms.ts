import { PlatformError } from "../errors.js";
import { formatPlatform, type Platform } from "../registry/image.js";
import type { ParsedManifest } from "../registry/manifest.js";
import { choosePlatform, normalizePlatform } from "../registry/platform.js";
import type { RegistryClient } from "../registry/registry-client.js";
import { ImageConfig, type Descriptor } from "../registry/schema.js";
import { formatImageReference, withDigest, type ImageReference } from "../wishlist/reference.js";

/** What the registry offers for one wanted platform of a tag, as a plan reports it. */
export interface PlatformDetail {
  /** The wanted platform, normalised (`linux/arm64/v8`). */
  platform: string;
  /** Digest of the platform's own manifest; absent when the index lacks the platform. */
  manifestDigest?: string;
  /**
   * What converting it downloads: the compressed config and layers its manifest lists. Chosen over
   * the manifest's own size (the index descriptor's, a few hundred bytes), which tells a reviewer
   * nothing about the cost of the change.
   */
  compressedBytes?: number;
  /** Why the platform is not there (PlatformError's message, as `sync` words its skip). */
  missing?: string;
}

/** Largest config read to learn a single-platform manifest's platform. */
const MAX_CONFIG = 8 * 1024 * 1024;

/**
 * Pure: which entry of an index serves each wanted platform (containerd's matching, as the
 * executor's), and which wanted platforms it lacks. Attestation entries (`unknown/unknown`) never
 * match and are not listed as available.
 */
export function matchIndexPlatforms(
  entries: readonly Descriptor[],
  wanted: readonly Platform[],
  reference: string,
): { platform: string; entry?: Descriptor; missing?: string }[] {
  const available = entries.flatMap((m) => (m.platform && m.platform.os !== "unknown" ? [formatPlatform(m.platform)] : []));
  return wanted.map((w) => {
    const platform = formatPlatform(normalizePlatform(w));
    const entry = entries[choosePlatform(w, entries.map((m) => m.platform))];
    return entry ? { platform, entry } : { platform, missing: new PlatformError(platform, available, reference).message };
  });
}

/**
 * The wanted platforms of `ref` at `digest` (a tag's index, usually): one GET of the index, then
 * one GET of each found platform's manifest to sum what it downloads. A single-platform manifest
 * serves only its own platform, read from its config (one more small GET). Registry errors are
 * thrown as the client throws them; the caller decides whether a plan goes on without the details.
 */
export async function fetchPlatformDetails(
  registry: Pick<RegistryClient, "manifest" | "blob">,
  ref: ImageReference,
  digest: string,
  wanted: readonly Platform[],
  options: { signal?: AbortSignal } = {},
): Promise<PlatformDetail[]> {
  const pinned = withDigest(ref, digest);
  const name = formatImageReference(ref);
  const top = await registry.manifest(pinned, options);
  if (top.parsed.kind === "image") {
    const own = await configPlatform(registry, pinned, top.parsed.manifest.config, options);
    const entry = { mediaType: top.parsed.mediaType, digest: top.digest, size: top.bytes.length, platform: own };
    return matchIndexPlatforms([entry], wanted, name).map((m) =>
      m.entry ? { platform: m.platform, manifestDigest: top.digest, compressedBytes: downloadSize(top.parsed) } : { platform: m.platform, missing: m.missing ?? "" },
    );
  }
  const matched = matchIndexPlatforms(top.parsed.index.manifests, wanted, name);
  return Promise.all(
    matched.map(async (m): Promise<PlatformDetail> => {
      if (!m.entry) return { platform: m.platform, missing: m.missing ?? "" };
      const manifest = await registry.manifest(withDigest(ref, m.entry.digest), options);
      return { platform: m.platform, manifestDigest: m.entry.digest, compressedBytes: downloadSize(manifest.parsed) };
    }),
  );
}

/** Config plus layers, as the manifest's descriptors state them (0 for an index, which has none). */
function downloadSize(parsed: ParsedManifest): number {
  if (parsed.kind !== "image") return 0;
  return parsed.manifest.config.size + parsed.manifest.layers.reduce((sum, l) => sum + l.size, 0);
}

async function configPlatform(
  registry: Pick<RegistryClient, "blob">,
  ref: ImageReference,
  config: Descriptor,
  options: { signal?: AbortSignal },
): Promise<Platform | undefined> {
  if (config.size > MAX_CONFIG) return undefined;
  const parts: Buffer[] = [];
  for await (const chunk of await registry.blob(ref, config, options)) parts.push(chunk as Buffer);
  const parsed = ImageConfig.safeParse(JSON.parse(Buffer.concat(parts).toString("utf8")));
  if (!parsed.success || !parsed.data.os || !parsed.data.architecture) return undefined;
  return { os: parsed.data.os, architecture: parsed.data.architecture, ...(parsed.data.variant ? { variant: parsed.data.variant } : {}) };
}
