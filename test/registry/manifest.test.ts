import { describe, expect, it } from "vitest";
import { ManifestError } from "../../src/errors.js";
import { MediaTypes } from "../../src/registry/image.js";
import { parseManifest } from "../../src/registry/manifest.js";
import { nextLink } from "../../src/registry/tag-list.js";

const d = (mediaType: string) => ({ mediaType, digest: `sha256:${"a".repeat(64)}`, size: 1 });
const json = (o: unknown) => Buffer.from(JSON.stringify(o));

describe("parseManifest", () => {
  it.each([
    ["OciManifest", { schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: d(MediaTypes.ociConfig), layers: [d(MediaTypes.ociLayerGzip)] }, undefined, "image", MediaTypes.ociManifest],
    ["OciManifestNoMediaTypeField", { schemaVersion: 2, config: d(MediaTypes.ociConfig), layers: [] }, MediaTypes.ociManifest, "image", MediaTypes.ociManifest],
    ["ShapeOnlyIndex", { schemaVersion: 2, manifests: [] }, "application/json", "index", MediaTypes.ociIndex],
    ["DockerManifest", { schemaVersion: 2, mediaType: MediaTypes.dockerManifest, config: d(MediaTypes.dockerConfig), layers: [] }, undefined, "image", MediaTypes.dockerManifest],
    ["DockerList", { schemaVersion: 2, mediaType: MediaTypes.dockerManifestList, manifests: [{ ...d(MediaTypes.dockerManifest), platform: { os: "linux", architecture: "amd64" } }] }, undefined, "index", MediaTypes.dockerManifestList],
  ])("%s", (_n, doc, contentType, kind, mediaType) => {
    const parsed = parseManifest(json(doc), contentType, "m");
    expect(parsed.kind).toBe(kind);
    expect(parsed.mediaType).toBe(mediaType);
  });

  it.each([
    ["Schema1", { schemaVersion: 1, name: "x", fsLayers: [] }, MediaTypes.dockerSchema1Signed, /schema 1/],
    ["Artifact", { schemaVersion: 2, mediaType: "application/vnd.oci.artifact.manifest.v1+json" }, undefined, /unsupported manifest media type/],
    ["HelmChart", { schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: d("application/vnd.cncf.helm.config.v1+json"), layers: [] }, undefined, /not a container image/],
    ["MissingLayers", { schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: d(MediaTypes.ociConfig) }, undefined, /malformed image manifest/],
    ["NotJson", "{", undefined, /not valid JSON/],
  ])("rejects %s with ManifestError", (_n, doc, contentType, message) => {
    const bytes = typeof doc === "string" ? Buffer.from(doc) : json(doc);
    expect(() => parseManifest(bytes, contentType, "m")).toThrow(ManifestError);
    expect(() => parseManifest(bytes, contentType, "m")).toThrow(message);
  });
});

describe("nextLink", () => {
  it.each([
    ['</v2/a/tags/list?n=2&last=b>; rel="next"', "http://r:5000/v2/a/tags/list?n=2&last=b"],
    ['<https://other/x>; rel=next', "https://other/x"],
    ['</p>; rel="prev", </n>; rel="next"', "http://r:5000/n"],
    [undefined, undefined],
  ])("%s", (link, expected) => {
    expect(nextLink(link, "http://r:5000/v2/a/tags/list?n=2")).toBe(expected);
  });
});
