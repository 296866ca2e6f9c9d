import type { Readable } from "node:stream";
import type { ImageReference } from "../wishlist/reference.js";

/**
 * The image model every source (a registry, an OCI layout, test fixtures) produces and every
 * consumer reads, without branching on the source. Names follow the OCI image spec.
 */

/** OCI content descriptor (image-spec descriptor.md), the fields we use. */
export interface Descriptor {
  mediaType: string;
  /** `sha256:<hex>` */
  digest: string;
  size: number;
  /** Non-distributable layers: where to fetch them instead of the registry. */
  urls?: string[];
  platform?: Platform;
  annotations?: Record<string, string>;
}

/** `os/architecture[/variant]`, e.g. linux/amd64, linux/arm64/v8. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** The subset of the OCI image configuration (image-spec config.md) the tool reads. */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  config?: {
    User?: string;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    Labels?: Record<string, string> | null;
    ExposedPorts?: Record<string, unknown>;
    Volumes?: Record<string, unknown>;
    StopSignal?: string;
  };
  rootfs?: { type: string; diff_ids: string[] };
  history?: unknown[];
}

/** One layer: what a source supplies. Decoding (gzip/zstd/plain, tar) is derived in src/layers. */
export interface Layer {
  readonly descriptor: Descriptor;
  /** The config's `rootfs.diff_ids` entry for this layer (sha256 of the uncompressed tar), when known. */
  readonly diffId?: string;
  /** The layer's compressed bytes as stored in the registry, digest-verified while read. */
  compressed(options?: { signal?: AbortSignal }): Promise<Readable>;
}

/** A single-platform image, resolved: manifest and config already fetched and parsed. */
export interface Image {
  /** The reference it was resolved from (tag kept), pinned to `manifestDigest`. */
  readonly reference: ImageReference;
  /** Digest of the image manifest (not of an index that pointed to it). */
  readonly manifestDigest: string;
  /** Digest of the index the manifest was chosen from, when the reference named an index. */
  readonly indexDigest?: string;
  readonly manifestMediaType: string;
  /** Digest of the config blob: it names the diff_ids, so it fixes the content exactly. */
  readonly configDigest: string;
  readonly config: ImageConfig;
  readonly platform: Platform;
  /** Base layer first. */
  readonly layers: readonly Layer[];
  /**
   * The manifest and config exactly as the source served them, when it has them: runtimes that
   * verify digests (Podman's image store) need these bytes, not a re-serialisation.
   */
  readonly manifestBytes?: Buffer;
  readonly configBytes?: Buffer;
}

/** Media types the tool understands. */
export const MediaTypes = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  ociLayerNondistributable: "application/vnd.oci.image.layer.nondistributable.v1.tar",
  ociLayerNondistributableGzip: "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  ociLayerNondistributableZstd: "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  dockerLayerForeignGzip: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  dockerSchema1: "application/vnd.docker.distribution.manifest.v1+json",
  dockerSchema1Signed: "application/vnd.docker.distribution.manifest.v1+prettyjws",
} as const;

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;
}
