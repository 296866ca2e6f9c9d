import { createHash } from "node:crypto";
import type { ImageMetadata } from "../../src/published/image-metadata.js";

/** A distinct, well-formed `sha256:` digest per seed, so tests read `digest("config-a")`. */
export function digest(seed: string): string {
  return `sha256:${hexOf(seed)}`;
}

/** The hex of `digest(seed)`. */
export function hexOf(seed: string): string {
  return createHash("sha256").update(seed).digest("hex");
}

/** Valid metadata for an image with config `digest(config)` and manifest `digest(manifest)`. */
export function metadata(config: string, manifest: string, references: string[], extra: Partial<ImageMetadata> = {}): ImageMetadata {
  return {
    version: 1,
    references,
    manifestDigest: digest(manifest),
    configDigest: digest(config),
    platform: "linux/amd64",
    layers: [{ digest: digest(`1a${config}`), size: 1234, mediaType: "application/vnd.oci.image.layer.v1.tar+gzip" }],
    config: { architecture: "amd64", os: "linux", config: { Env: ["PATH=/usr/bin"] }, rootfs: { type: "layers", diff_ids: [digest("d1")] } },
    convertedAt: "2026-11-01T10:00:00.000Z",
    files: 100,
    bytes: 1_048_576,
    ...extra,
  };
}
