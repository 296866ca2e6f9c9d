import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DigestMismatchError, InternalError, ManifestError } from "../../src/errors.js";
import { bigDataFileName, podmanDiffDigest, podmanLayerId, podmanLinkId } from "../../src/runtimes/_podman-ids.js";
import {
  podmanImageEntries,
  podmanImagePaths,
  podmanImageRecord,
  podmanLayerRecord,
  podmanSharedFiles,
  podmanStoreFiles,
  type PodmanStoreImage,
  type StoreEntry,
} from "../../src/runtimes/podman-store.js";

const sha256 = (data: Buffer | string): string => `sha256:${createHash("sha256").update(data).digest("hex")}`;

/** A store record over real manifest and config bytes (no files needed: the module is pure). */
function storeImage(seed: string, names: string[], extra: Partial<PodmanStoreImage> = {}): PodmanStoreImage {
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", seed }));
  const configDigest = sha256(config);
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, config: { digest: configDigest, size: config.length }, layers: [] }));
  const id = configDigest.slice(7);
  return { id, names, manifestDigest: sha256(manifest), manifest, configDigest, config, created: "2024-01-01T00:00:00Z", imageDir: `/.images/${id.slice(0, 2)}/${id.slice(2)}`, size: 1234, ...extra };
}

const at = (entries: StoreEntry[], path: string): StoreEntry | undefined => entries.find((e) => e.path === path);
const json = (entry: StoreEntry | undefined): unknown => JSON.parse(entry?.kind === "file" ? entry.content.toString() : "null");

describe("podmanImageEntries", () => {
  const image = storeImage("a", ["docker.io/library/centos:7"]);
  const layer = podmanLayerId(image.id);
  const link = podmanLinkId(layer);

  it("writes the image's big data, its one layer with a relative diff link, and the short link", () => {
    const entries = podmanImageEntries("/podmanStore", image);
    const data = `/podmanStore/overlay-images/${image.id}`;
    expect(entries.map((e) => `${e.kind} ${e.path}`)).toEqual([
      `dir /podmanStore/overlay-images/${image.id}`,
      `file ${data}/${bigDataFileName(`manifest-${image.manifestDigest}`)}`,
      `file ${data}/${bigDataFileName(image.configDigest)}`,
      `file ${data}/manifest`,
      `dir /podmanStore/overlay/${layer}`,
      `symlink /podmanStore/overlay/${layer}/diff`,
      `file /podmanStore/overlay/${layer}/link`,
      `symlink /podmanStore/overlay/l/${link}`,
    ]);
    expect(at(entries, `${data}/manifest`)).toMatchObject({ content: image.manifest });
    expect(at(entries, `${data}/=${Buffer.from(image.configDigest).toString("base64")}`)).toMatchObject({ content: image.config });
    expect(at(entries, `/podmanStore/overlay/${layer}/diff`)).toMatchObject({ target: `../../../.images/${image.id.slice(0, 2)}/${image.id.slice(2)}` });
    expect(at(entries, `/podmanStore/overlay/${layer}/link`)).toMatchObject({ content: Buffer.from(link) });
    expect(at(entries, `/podmanStore/overlay/l/${link}`)).toMatchObject({ target: `../${layer}/diff` });
  });

  it("points diff at the layout's directory from wherever the store is", () => {
    const flat = { ...image, imageDir: `/.flat/${image.id.slice(0, 2)}/${image.id.slice(2)}` };
    const entries = podmanImageEntries("/.multiarch/arm64/podmanStore", flat);
    expect(at(entries, `/.multiarch/arm64/podmanStore/overlay/${layer}/diff`)).toMatchObject({ target: `../../../../../.flat/${image.id.slice(0, 2)}/${image.id.slice(2)}` });
  });

  it("derives layer and link IDs from the image ID alone, shaped as c/storage shapes them", () => {
    expect(layer).toMatch(/^[0-9a-f]{64}$/);
    expect(layer).not.toBe(image.id);
    expect(link).toMatch(/^[A-Z2-7]{26}$/);
    expect(podmanDiffDigest(image.id)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(podmanDiffDigest(image.id)).not.toBe(image.configDigest);
    expect(podmanImageEntries("/podmanStore", image)).toEqual(podmanImageEntries("/podmanStore", storeImage("a", ["other:1"])));
    expect(podmanLayerId(storeImage("b", []).id)).not.toBe(layer);
  });

  it("names big-data files as c/storage does", () => {
    expect(bigDataFileName("manifest")).toBe("manifest");
    expect(bigDataFileName("signatures.1")).toBe("signatures.1");
    expect(bigDataFileName("sha256:ab")).toBe(`=${Buffer.from("sha256:ab").toString("base64")}`);
    expect(bigDataFileName("Manifest")).toBe("=TWFuaWZlc3Q=");
    // Go's loop stops after the first other character and encodes only if more follows it.
    expect(bigDataFileName("manifest-")).toBe("manifest-");
  });

  it("refuses bytes that do not match their digests and records Podman could not load", () => {
    expect(() => podmanImageEntries("/podmanStore", { ...image, config: Buffer.from("{}") })).toThrow(DigestMismatchError);
    expect(() => podmanImageEntries("/podmanStore", { ...image, manifestDigest: sha256("x") })).toThrow(DigestMismatchError);
    const other = storeImage("c", []);
    expect(() => podmanImageEntries("/podmanStore", { ...image, manifest: other.manifest, manifestDigest: other.manifestDigest })).toThrow(ManifestError);
    expect(() => podmanImageEntries("/podmanStore", { ...image, id: "ab" })).toThrow(InternalError);
    expect(() => podmanImageEntries("/podmanStore", { ...image, created: "Mon Jan 1 2024" })).toThrow(/RFC 3339/);
    expect(() => podmanImageEntries("/podmanStore", { ...image, imageDir: ".images/ab/cd" })).toThrow(InternalError);
    expect(() => podmanImageEntries("/podmanStore", { ...image, imageDir: "/podmanStore/x" })).toThrow(/inside the store/);
    expect(() => podmanImageEntries("podmanStore", image)).toThrow(InternalError);
    expect(() => podmanImageEntries("/podmanStore", { ...image, names: ["a b"] })).toThrow(InternalError);
  });
});

describe("podmanStoreFiles", () => {
  const a = storeImage("a", ["docker.io/library/centos:latest", "docker.io/library/centos:7", "docker.io/library/centos:7"]);
  const b = storeImage("b", ["docker.io/library/alpine:3"], { owners: { uids: [1000, 0, 0], gids: [0] } });

  it("writes images.json and layers.json sorted by ID, the fixed directories and empty lock files", () => {
    const entries = podmanStoreFiles("/podmanStore", [b, a]);
    expect(entries.map((e) => `${e.kind} ${e.path}`)).toEqual([
      "dir /podmanStore",
      "dir /podmanStore/overlay",
      "dir /podmanStore/overlay-images",
      "file /podmanStore/overlay-images/images.json",
      "file /podmanStore/overlay-images/images.lock",
      "dir /podmanStore/overlay-layers",
      "file /podmanStore/overlay-layers/layers.json",
      "file /podmanStore/overlay-layers/layers.lock",
      "dir /podmanStore/overlay/l",
    ]);
    expect(at(entries, "/podmanStore/overlay-images/images.lock")).toMatchObject({ content: Buffer.alloc(0) });
    expect(at(entries, "/podmanStore/overlay-layers/layers.lock")).toMatchObject({ content: Buffer.alloc(0) });
    const [first, second] = [a, b].sort((x, y) => (x.id < y.id ? -1 : 1)) as [PodmanStoreImage, PodmanStoreImage];
    const images = json(at(entries, "/podmanStore/overlay-images/images.json")) as Array<Record<string, unknown>>;
    expect(images.map((i) => i.id)).toEqual([first.id, second.id]);
    expect(images.find((i) => i.id === a.id)).toEqual({
      id: a.id,
      digest: a.manifestDigest,
      names: ["docker.io/library/centos:7", "docker.io/library/centos:latest"],
      layer: podmanLayerId(a.id),
      "big-data-names": [a.configDigest, `manifest-${a.manifestDigest}`, "manifest"],
      "big-data-sizes": { [a.configDigest]: a.config.length, [`manifest-${a.manifestDigest}`]: a.manifest.length, manifest: a.manifest.length },
      "big-data-digests": { [a.configDigest]: a.configDigest, [`manifest-${a.manifestDigest}`]: a.manifestDigest, manifest: a.manifestDigest },
      created: "2024-01-01T00:00:00Z",
    });
    const layers = json(at(entries, "/podmanStore/overlay-layers/layers.json")) as Array<Record<string, unknown>>;
    expect(layers.find((l) => l.id === podmanLayerId(a.id))).toEqual({ id: podmanLayerId(a.id), created: "2024-01-01T00:00:00Z", "diff-digest": podmanDiffDigest(a.id), "diff-size": 1234 });
    expect(layers.find((l) => l.id === podmanLayerId(b.id))).toMatchObject({ uidset: [0, 1000], gidset: [0] });
  });

  it("gives the same bytes for the same images in any order", () => {
    const bytes = (entries: StoreEntry[]): string[] => entries.map((e) => (e.kind === "file" ? e.content.toString("hex") : e.kind));
    expect(bytes(podmanStoreFiles("/podmanStore", [a, b]))).toEqual(bytes(podmanStoreFiles("/podmanStore", [b, a])));
    expect(json(at(podmanStoreFiles("/podmanStore", []), "/podmanStore/overlay-images/images.json"))).toEqual([]);
  });

  it("writes records read back as they are, fields it does not know kept", () => {
    const foreign = { ...podmanImageRecord(b), "names-history": ["old:1"], metadata: "{}" };
    const entries = podmanSharedFiles("/podmanStore", [foreign, podmanImageRecord(a)], [podmanLayerRecord(a), podmanLayerRecord(b)]);
    const images = json(at(entries, "/podmanStore/overlay-images/images.json")) as Array<Record<string, unknown>>;
    expect(images.find((i) => i.id === b.id)).toEqual(foreign);
    expect(() => podmanSharedFiles("/podmanStore", [], [podmanLayerRecord(a), podmanLayerRecord(a)])).toThrow(/layer .* appears twice/);
  });

  it("names the paths that take an image out again: exactly the image's own top entries", () => {
    const own = podmanImageEntries("/podmanStore", a).map((e) => e.path);
    const paths = podmanImagePaths("/podmanStore", a.id);
    expect(paths).toHaveLength(3);
    for (const p of paths) expect(own).toContain(p);
    expect(own.every((e) => paths.some((p) => e === p || e.startsWith(`${p}/`)))).toBe(true);
  });

  it("refuses a name on two images and an image twice, which would make every podman command fail", () => {
    const clash = storeImage("c", ["docker.io/library/centos:7"]);
    expect(() => podmanStoreFiles("/podmanStore", [a, clash])).toThrow(/name docker.io\/library\/centos:7 is on images/);
    expect(() => podmanStoreFiles("/podmanStore", [a, { ...a, names: ["x:1"] }])).toThrow(/appears twice/);
  });
});
