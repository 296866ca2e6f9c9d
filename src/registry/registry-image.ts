/**
 * Assembles the `Image` model from a verified manifest and config: layers in manifest order (base
 * first), each paired with its `rootfs.diff_ids` entry, with a lazy `compressed()` that opens a
 * verified stream only when called.
 */
import type { Readable } from "node:stream";
import { ManifestError } from "../errors.js";
import type { ImageReference } from "../wishlist/reference.js";
import { formatImageReference } from "../wishlist/reference.js";
import type { Descriptor, Image, ImageConfig as ImageConfigModel, Layer, Platform } from "./image.js";
import type { OpenBlobOptions } from "./blob-stream.js";
import { ImageConfig, type ImageManifest } from "./schema.js";

export interface BuildImageInput {
  reference: ImageReference;
  manifestDigest: string;
  indexDigest?: string;
  manifestMediaType: string;
  manifest: ImageManifest;
  /** The config blob, already digest-verified. */
  configBytes: Buffer;
  /** The manifest's bytes as served (its digest is `manifestDigest`). */
  manifestBytes?: Buffer;
  /** The platform the index named for this manifest, if it came from an index. */
  indexPlatform: Platform | undefined;
  open(descriptor: Descriptor, options?: OpenBlobOptions): Promise<Readable>;
}

/** The Image for a manifest; ManifestError when config and manifest disagree. */
export function buildImage(input: BuildImageInput): Image {
  const name = formatImageReference(input.reference);
  let config: ImageConfigModel;
  try {
    config = ImageConfig.parse(JSON.parse(input.configBytes.toString("utf8"))) as ImageConfigModel;
  } catch {
    throw new ManifestError(`${name}: image config ${input.manifest.config.digest} is malformed`);
  }
  const diffIds = config.rootfs?.diff_ids;
  if (diffIds && diffIds.length !== input.manifest.layers.length) {
    throw new ManifestError(`${name}: config lists ${diffIds.length} diff_ids but the manifest has ${input.manifest.layers.length} layers`);
  }
  const platform: Platform =
    config.os && config.architecture
      ? { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) }
      : (input.indexPlatform ?? { os: "linux", architecture: "amd64" });
  const layers: Layer[] = input.manifest.layers.map((descriptor, i) => {
    const diffId = diffIds?.[i];
    return {
      descriptor,
      ...(diffId ? { diffId } : {}),
      compressed: (options) => input.open(descriptor, { what: `layer ${descriptor.digest} of ${name}`, ...options }),
    };
  });
  return {
    reference: input.reference,
    manifestDigest: input.manifestDigest,
    ...(input.indexDigest ? { indexDigest: input.indexDigest } : {}),
    manifestMediaType: input.manifestMediaType,
    configDigest: input.manifest.config.digest,
    config,
    platform,
    layers,
    ...(input.manifestBytes ? { manifestBytes: input.manifestBytes } : {}),
    configBytes: input.configBytes,
  };
}
