/**
 * Images as OCI image layout directories (image-spec image-layout.md: `oci-layout`, `index.json`,
 * `blobs/sha256/<hex>`) and `Image` objects over them or over layers in memory, so the converter
 * and `umoci unpack` can read the very same bytes. The manifest is named in index.json with an
 * `org.opencontainers.image.ref.name` annotation (what `umoci unpack --image DIR:REF` looks up).
 */
import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Transform, type TransformCallback } from "node:stream";
import { DigestMismatchError } from "../../src/errors.js";
import { MediaTypes, type Descriptor, type Image, type ImageConfig, type Layer } from "../../src/registry/image.js";
import { parseImageReference } from "../../src/wishlist/reference.js";
import { sha256, type PushLayer } from "./image-builder.js";

/** A layer blob: in memory (`blob`) or in a file (`file`, e.g. from writeLayerFile). */
export type LayoutLayer = Pick<PushLayer, "digest" | "size" | "mediaType" | "diffId" | "blob" | "file">;


/** The config of a test image: linux/amd64 with the layers' diff_ids. */
export function layoutConfig(layers: LayoutLayer[], config: ImageConfig["config"] = {}): ImageConfig {
  return {
    architecture: "amd64",
    os: "linux",
    created: "2024-01-02T03:04:05Z",
    config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["/bin/sh"], ...config },
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
  };
}

/** Checks a blob's bytes against its digest and size while they are read. */
class VerifyingStream extends Transform {
  private readonly hash = createHash("sha256");
  private size = 0;
  constructor(private readonly descriptor: Descriptor) {
    super();
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    done(null, chunk);
  }
  override _flush(done: TransformCallback): void {
    const actual = `sha256:${this.hash.digest("hex")}`;
    done(actual === this.descriptor.digest ? null : new DigestMismatchError(`blob ${this.descriptor.digest}`, this.descriptor.digest, actual));
  }
}

function layerOf(l: LayoutLayer, open: () => Readable): Layer {
  const descriptor: Descriptor = { mediaType: l.mediaType, digest: l.digest, size: l.size };
  return {
    descriptor,
    async compressed() {
      return open().pipe(new VerifyingStream(descriptor));
    },
  };
}

/** An `Image` over layers in memory (or in files), base layer first. */
export function memoryImage(layers: LayoutLayer[], options: { reference?: string; config?: ImageConfig } = {}): Image {
  const config = options.config ?? layoutConfig(layers);
  const configBytes = Buffer.from(JSON.stringify(config));
  return {
    reference: parseImageReference(options.reference ?? "localhost:5000/test/image:latest"),
    manifestDigest: sha256(JSON.stringify(layers.map((l) => l.digest))),
    manifestMediaType: MediaTypes.ociManifest,
    configDigest: sha256(configBytes),
    config,
    platform: { os: "linux", architecture: "amd64" },
    layers: layers.map((l) => layerOf(l, () => (l.blob ? Readable.from([l.blob]) : createReadStream(l.file!, { highWaterMark: 1 << 20 })))),
  };
}

/**
 * Write an OCI image layout at `dir` holding one image named `refName`. Layer files are copied
 * (on /dev/shm that is a memory copy; tests pass small in-memory blobs).
 */
export async function writeOciLayout(
  dir: string,
  layers: LayoutLayer[],
  options: { refName?: string; config?: ImageConfig; /** Add to an existing layout's index instead of replacing it. */ append?: boolean } = {},
): Promise<{ manifestDigest: string; configDigest: string }> {
  const blobs = join(dir, "blobs", "sha256");
  await mkdir(blobs, { recursive: true });
  const put = async (digest: string, data: Buffer): Promise<void> => writeFile(join(blobs, digest.slice(7)), data);
  for (const l of layers) {
    const target = join(blobs, l.digest.slice(7));
    if (existsSync(target)) continue;
    if (l.blob) await put(l.digest, l.blob);
    else await copyFile(l.file!, target);
  }
  const config = Buffer.from(JSON.stringify(options.config ?? layoutConfig(layers)));
  const configDigest = sha256(config);
  await put(configDigest, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: { mediaType: MediaTypes.ociConfig, digest: configDigest, size: config.length },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    }),
  );
  const manifestDigest = sha256(manifest);
  await put(manifestDigest, manifest);
  const refName = options.refName ?? "latest";
  await writeFile(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  const previous =
    options.append && existsSync(join(dir, "index.json"))
      ? (JSON.parse(await readFile(join(dir, "index.json"), "utf8")) as { manifests: Descriptor[] }).manifests.filter(
          (m) => m.annotations?.["org.opencontainers.image.ref.name"] !== refName,
        )
      : [];
  const entry: Descriptor = {
    mediaType: MediaTypes.ociManifest,
    digest: manifestDigest,
    size: manifest.length,
    annotations: { "org.opencontainers.image.ref.name": refName },
  };
  await writeFile(join(dir, "index.json"), JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [...previous, entry] }));
  return { manifestDigest, configDigest };
}

/** A file-backed `Image` over an OCI layout written by `writeOciLayout` (blobs read as streams). */
export async function openOciLayout(dir: string, refName = "latest"): Promise<Image> {
  const blob = (digest: string): string => join(dir, "blobs", "sha256", digest.replace(/^sha256:/, ""));
  const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8")) as { manifests: Descriptor[] };
  const desc = index.manifests.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === refName);
  if (!desc) throw new Error(`no image named ${refName} in ${dir}`);
  const manifest = JSON.parse(await readFile(blob(desc.digest), "utf8")) as { config: Descriptor; layers: Descriptor[] };
  const config = JSON.parse(await readFile(blob(manifest.config.digest), "utf8")) as ImageConfig;
  return {
    reference: parseImageReference(`localhost:5000/layout/image:${refName}`),
    manifestDigest: desc.digest,
    manifestMediaType: MediaTypes.ociManifest,
    configDigest: manifest.config.digest,
    config,
    platform: { os: "linux", architecture: "amd64" },
    layers: manifest.layers.map((d) =>
      layerOf({ ...d, diffId: "" }, () => createReadStream(blob(d.digest), { highWaterMark: 1 << 20 })),
    ),
  };
}
