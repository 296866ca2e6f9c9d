/**
 * Manifest bytes → a typed image manifest or index. Accepts OCI image manifest and index and
 * Docker schema2 manifest and manifest list; schema 1, artifacts and anything else are a
 * ManifestError that names the media type. The media type comes from the document itself, else
 * the Content-Type header, else the document's shape (OCI lets `mediaType` be omitted).
 */
import { ManifestError } from "../errors.js";
import { MediaTypes } from "./image.js";
import { ImageIndex, ImageManifest } from "./schema.js";

export type ParsedManifest =
  | { kind: "image"; mediaType: string; manifest: ImageManifest }
  | { kind: "index"; mediaType: string; index: ImageIndex };

/** What we ask registries for, preferred first. */
export const MANIFEST_ACCEPT = [
  MediaTypes.ociIndex,
  MediaTypes.ociManifest,
  MediaTypes.dockerManifestList,
  MediaTypes.dockerManifest,
].join(", ");

const IMAGE_TYPES = new Set<string>([MediaTypes.ociManifest, MediaTypes.dockerManifest]);
const INDEX_TYPES = new Set<string>([MediaTypes.ociIndex, MediaTypes.dockerManifestList]);
const CONFIG_TYPES = new Set<string>([MediaTypes.ociConfig, MediaTypes.dockerConfig]);
const GENERIC = new Set(["", "application/json", "application/octet-stream", "text/plain"]);

/** Parse `bytes` (already digest-verified) fetched as `what`. */
export function parseManifest(bytes: Uint8Array, contentType: string | undefined, what: string): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    throw new ManifestError(`${what}: manifest is not valid JSON`);
  }
  if (typeof json !== "object" || json === null) throw new ManifestError(`${what}: manifest is not a JSON object`);
  const doc = json as Record<string, unknown>;
  const header = (contentType ?? "").split(";")[0]!.trim();
  let mediaType = typeof doc["mediaType"] === "string" ? doc["mediaType"] : header;
  if (doc["schemaVersion"] === 1 || mediaType === MediaTypes.dockerSchema1 || mediaType === MediaTypes.dockerSchema1Signed) {
    throw new ManifestError(
      `${what}: Docker schema 1 manifests are not supported (push the image again with a current client to get schema 2 or OCI)`,
    );
  }
  if (GENERIC.has(mediaType)) {
    if (Array.isArray(doc["manifests"])) mediaType = MediaTypes.ociIndex;
    else if (typeof doc["config"] === "object") mediaType = MediaTypes.ociManifest;
  }
  if (INDEX_TYPES.has(mediaType)) {
    const parsed = ImageIndex.safeParse(doc);
    if (!parsed.success) throw new ManifestError(`${what}: malformed image index: ${parsed.error.issues[0]?.message ?? ""}`);
    return { kind: "index", mediaType, index: parsed.data };
  }
  if (IMAGE_TYPES.has(mediaType)) {
    const parsed = ImageManifest.safeParse(doc);
    if (!parsed.success) throw new ManifestError(`${what}: malformed image manifest: ${parsed.error.issues[0]?.message ?? ""}`);
    if (!CONFIG_TYPES.has(parsed.data.config.mediaType)) {
      throw new ManifestError(`${what}: not a container image (config media type ${parsed.data.config.mediaType})`);
    }
    return { kind: "image", mediaType, manifest: parsed.data };
  }
  throw new ManifestError(`${what}: unsupported manifest media type "${mediaType || "(none)"}"`);
}
