/**
 * Builds images in code and pushes them through the registry API, the way a client would:
 * blobs by monolithic PUT or chunked PATCH uploads, then OCI or Docker schema2 manifests, configs
 * with rootfs.diff_ids, and multi-platform indexes (OCI index or Docker manifest list).
 *
 *   const img = await pushImage(registry, "ns/app:1", { layers: [await buildLayer(entries)] });
 *   await pushIndex(registry, "ns/app:multi", { manifests: [amd64, arm64] });
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { request } from "undici";
import { MediaTypes, type Descriptor, type ImageConfig, type Platform } from "../../src/registry/image.js";
import type { PushTarget } from "./registry.js";

/** A layer to push: a BuiltLayer (bytes in memory) or a layer file from writeLayerFile(). */
export interface PushLayer {
  digest: string;
  size: number;
  mediaType: string;
  diffId: string;
  blob?: Buffer;
  file?: string;
  /** Non-distributable layers: URLs written into the descriptor. */
  urls?: string[];
  /** Leave the blob out of the registry (for non-distributable layers served elsewhere). */
  skipPush?: boolean;
}

export type ImageFormat = "oci" | "docker";
export type UploadMode = "monolithic" | "chunked";

export interface PushImageOptions {
  /** Base layer first. */
  layers: PushLayer[];
  /** Fields of the config's `config` section (Env, Entrypoint, Cmd, Labels, WorkingDir, User…). */
  config?: NonNullable<ImageConfig["config"]>;
  /** The platform written into the config (default linux/amd64). */
  platform?: Platform;
  /** Replace the generated config entirely (bytes pushed as they are). */
  rawConfig?: Buffer;
  format?: ImageFormat;
  upload?: UploadMode;
  /** Chunk size of chunked uploads (default 64 KiB). */
  chunkSize?: number;
  annotations?: Record<string, string>;
}

export interface PushedImage {
  /** `host/ns/name:tag` (or `@digest` when pushed without a tag), ready for parseImageReference. */
  reference: string;
  repository: string;
  tag?: string;
  manifestDigest: string;
  manifestMediaType: string;
  manifest: Buffer;
  configDigest: string;
  config: Buffer;
  layers: Descriptor[];
  platform: Platform;
  /** The manifest's descriptor, with platform, as an index lists it. */
  descriptor: Descriptor;
}

export interface PushIndexOptions {
  manifests: PushedImage[];
  format?: ImageFormat;
  /** Extra raw entries appended to `manifests` (e.g. attestation manifests, odd platforms). */
  extra?: Descriptor[];
}

export interface PushedIndex {
  reference: string;
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

export const sha256 = (data: Buffer | string): string => `sha256:${createHash("sha256").update(data).digest("hex")}`;

/** Split `ns/name:tag` / `ns/name@digest` / `ns/name` into repository and tag-or-digest. */
export function splitName(name: string): { repository: string; selector?: string } {
  const at = name.indexOf("@");
  if (at >= 0) return { repository: name.slice(0, at), selector: name.slice(at + 1) };
  const colon = name.lastIndexOf(":");
  if (colon > name.lastIndexOf("/")) return { repository: name.slice(0, colon), selector: name.slice(colon + 1) };
  return { repository: name };
}

function headers(target: PushTarget, repository: string, extra: Record<string, string> = {}): Record<string, string> {
  const authz = target.authorization(repository);
  return { ...extra, ...(authz ? { authorization: authz } : {}) };
}

async function expectStatus(res: Awaited<ReturnType<typeof request>>, ok: number[], what: string): Promise<void> {
  if (ok.includes(res.statusCode)) return;
  const body = await res.body.text();
  throw new Error(`${what}: HTTP ${res.statusCode} ${body.slice(0, 500)}`);
}

/** Does the registry already hold this blob in `repository`? */
export async function blobExists(target: PushTarget, repository: string, digest: string): Promise<boolean> {
  const res = await request(`${target.url}/v2/${repository}/blobs/${digest}`, { method: "HEAD", headers: headers(target, repository) });
  await res.body.dump();
  return res.statusCode === 200;
}

/** Upload one blob (bytes or a file, streamed) unless the registry has it already. */
export async function pushBlob(
  target: PushTarget,
  repository: string,
  blob: { digest: string; size: number; blob?: Buffer; file?: string },
  upload: UploadMode = "monolithic",
  chunkSize = 64 * 1024,
): Promise<void> {
  if (await blobExists(target, repository, blob.digest)) return;
  const start = await request(`${target.url}/v2/${repository}/blobs/uploads/`, { method: "POST", headers: headers(target, repository) });
  await expectStatus(start, [202], `start upload ${blob.digest}`);
  await start.body.dump();
  let location = new URL(String(start.headers.location), target.url);
  const bodyOf = (from: number, to: number) =>
    blob.blob ? blob.blob.subarray(from, to) : createReadStream(blob.file!, to > from ? { start: from, end: to - 1 } : { start: 0, end: -1 });
  if (upload === "chunked") {
    for (let offset = 0; offset < blob.size; offset += chunkSize) {
      const end = Math.min(blob.size, offset + chunkSize);
      const res = await request(location, {
        method: "PATCH",
        headers: headers(target, repository, {
          "content-type": "application/octet-stream",
          "content-range": `${offset}-${end - 1}`,
          "content-length": String(end - offset),
        }),
        body: bodyOf(offset, end),
      });
      await expectStatus(res, [202], `upload chunk ${offset} of ${blob.digest}`);
      await res.body.dump();
      location = new URL(String(res.headers.location), target.url);
    }
    location.searchParams.set("digest", blob.digest);
    const done = await request(location, { method: "PUT", headers: headers(target, repository, { "content-length": "0" }) });
    await expectStatus(done, [201], `finish upload ${blob.digest}`);
    await done.body.dump();
    return;
  }
  location.searchParams.set("digest", blob.digest);
  const res = await request(location, {
    method: "PUT",
    headers: headers(target, repository, { "content-type": "application/octet-stream", "content-length": String(blob.size) }),
    body: blob.size === 0 ? Buffer.alloc(0) : bodyOf(0, blob.size),
  });
  await expectStatus(res, [201], `upload ${blob.digest}`);
  await res.body.dump();
}

/** PUT a manifest or index under `ns/name:tag` (or `ns/name` to push by digest only); returns its digest. */
export async function putManifest(target: PushTarget, name: string, bytes: Buffer, mediaType: string): Promise<string> {
  const { repository, selector } = splitName(name);
  const digest = sha256(bytes);
  const res = await request(`${target.url}/v2/${repository}/manifests/${selector ?? digest}`, {
    method: "PUT",
    headers: headers(target, repository, { "content-type": mediaType }),
    body: bytes,
  });
  await expectStatus(res, [201], `put manifest ${name}`);
  await res.body.dump();
  return digest;
}

/** The config JSON an image builder would write. */
export function imageConfig(diffIds: string[], options: Pick<PushImageOptions, "config" | "platform"> = {}): ImageConfig {
  const p = options.platform ?? { os: "linux", architecture: "amd64" };
  return {
    architecture: p.architecture,
    os: p.os,
    ...(p.variant ? { variant: p.variant } : {}),
    created: "2024-01-01T00:00:00Z",
    config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], ...options.config },
    rootfs: { type: "layers", diff_ids: diffIds },
    history: diffIds.map(() => ({ created: "2024-01-01T00:00:00Z", created_by: "image-builder" })),
  };
}

/** Build config and manifest for `layers`, push blobs then manifest to `name` (`ns/name[:tag]`). */
export async function pushImage(target: PushTarget, name: string, options: PushImageOptions): Promise<PushedImage> {
  const { repository, selector } = splitName(name);
  const format = options.format ?? "oci";
  const docker = format === "docker";
  const platform = options.platform ?? { os: "linux", architecture: "amd64" };
  const config = options.rawConfig ?? Buffer.from(JSON.stringify(imageConfig(options.layers.map((l) => l.diffId), options)));
  const configDigest = sha256(config);
  for (const layer of options.layers) {
    if (!layer.skipPush) await pushBlob(target, repository, layer, options.upload, options.chunkSize);
  }
  await pushBlob(target, repository, { digest: configDigest, size: config.length, blob: config }, options.upload, options.chunkSize);
  const layers: Descriptor[] = options.layers.map((l) => ({
    mediaType: docker && l.mediaType === MediaTypes.ociLayerGzip ? MediaTypes.dockerLayerGzip : l.mediaType,
    digest: l.digest,
    size: l.size,
    ...(l.urls ? { urls: l.urls } : {}),
  }));
  const manifestMediaType = docker ? MediaTypes.dockerManifest : MediaTypes.ociManifest;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: manifestMediaType,
      config: { mediaType: docker ? MediaTypes.dockerConfig : MediaTypes.ociConfig, digest: configDigest, size: config.length },
      layers,
      ...(options.annotations ? { annotations: options.annotations } : {}),
    }),
  );
  const manifestDigest = await putManifest(target, name, manifest, manifestMediaType);
  return {
    reference: `${target.host}/${repository}${selector ? (selector.includes(":") ? `@${selector}` : `:${selector}`) : `@${manifestDigest}`}`,
    repository,
    ...(selector && !selector.includes(":") ? { tag: selector } : {}),
    manifestDigest,
    manifestMediaType,
    manifest,
    configDigest,
    config,
    layers,
    platform,
    descriptor: { mediaType: manifestMediaType, digest: manifestDigest, size: manifest.length, platform },
  };
}

/** Push a multi-platform index (OCI) or manifest list (Docker) over already pushed images. */
export async function pushIndex(target: PushTarget, name: string, options: PushIndexOptions): Promise<PushedIndex> {
  const { repository, selector } = splitName(name);
  const mediaType = options.format === "docker" ? MediaTypes.dockerManifestList : MediaTypes.ociIndex;
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      manifests: [...options.manifests.map((m) => m.descriptor), ...(options.extra ?? [])],
    }),
  );
  const digest = await putManifest(target, name, bytes, mediaType);
  return { reference: `${target.host}/${repository}${selector && !selector.includes(":") ? `:${selector}` : `@${digest}`}`, digest, mediaType, bytes };
}

/** Point `newTag` at whatever `name` (`ns/name:tag` or `@digest`) names now. */
export async function retag(target: PushTarget, name: string, newTag: string): Promise<string> {
  const { repository, selector } = splitName(name);
  const accept = [MediaTypes.ociManifest, MediaTypes.ociIndex, MediaTypes.dockerManifest, MediaTypes.dockerManifestList].join(", ");
  const res = await request(`${target.url}/v2/${repository}/manifests/${selector ?? "latest"}`, {
    headers: headers(target, repository, { accept }),
  });
  await expectStatus(res, [200], `get manifest ${name}`);
  const bytes = Buffer.from(await res.body.arrayBuffer());
  return putManifest(target, `${repository}:${newTag}`, bytes, String(res.headers["content-type"]));
}

/** Delete the manifest `ns/name@digest` (distribution deletes by digest; every tag on it goes). */
export async function deleteManifest(target: PushTarget, name: string): Promise<void> {
  const { repository, selector } = splitName(name);
  const res = await request(`${target.url}/v2/${repository}/manifests/${selector}`, { method: "DELETE", headers: headers(target, repository) });
  await expectStatus(res, [202], `delete manifest ${name}`);
  await res.body.dump();
}
