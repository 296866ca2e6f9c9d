/**
 * Podman's additional image store (containers/storage's overlay layout, read-only) over the image
 * directories the repository already holds, so `podman run NAME` starts a published image with no
 * pull. Pure: entries in, entries out; the caller writes them into the repository.
 *
 *   <store>/overlay-images/images.json       every image: id, names, digest, layer, big data
 *   <store>/overlay-images/images.lock       empty; must exist (see podmanStoreFiles)
 *   <store>/overlay-images/<id>/manifest     the registry's manifest bytes
 *   <store>/overlay-images/<id>/=<base64 key> the config (key `sha256:<hex>`), `manifest-<digest>`
 *   <store>/overlay-layers/layers.json       one layer per image, no parent
 *   <store>/overlay-layers/layers.lock       empty; must exist
 *   <store>/overlay/<layer>/diff             relative symlink to the flattened image directory
 *   <store>/overlay/<layer>/link             the layer's short link ID
 *   <store>/overlay/l/<short>                symlink to `../<layer>/diff`
 *
 * As CVMFS's DUCC does, each image is one layer whose `diff` is the flattened tree: whiteouts never
 * reach overlayfs, no byte is stored twice, and the container's mount has a single lower directory
 * (c/storage can mount long `lowerdir` lists from additional stores only while they fit one page).
 * Field facts: containers/storage images.go (Image), layers.go (Layer), drivers/overlay/overlay.go.
 */
import { createHash } from "node:crypto";
import { posix } from "node:path";
import { DigestMismatchError, InternalError, ManifestError } from "../errors.js";
import { bigDataFileName, podmanDiffDigest, podmanLayerId, podmanLinkId } from "./_podman-ids.js";
import type { PodmanImageRecord, PodmanLayerRecord } from "./podman-images-file.js";

/** One image as the store shows it. Several names may share it; an ID appears once per store. */
export interface PodmanStoreImage {
  /** Image ID: the config digest's hex (64 hex), as Podman computes it for a pulled image. */
  id: string;
  /** Normalised references (`docker.io/library/centos:7`); unique across the whole store. Sorted and deduplicated here. */
  names: string[];
  /** `sha256:…` of `manifest`: what `NAME@sha256:…` and `podman images --digests` match. */
  manifestDigest: string;
  /** The manifest bytes exactly as the registry served them (an image manifest, not an index). */
  manifest: Buffer;
  /** `sha256:…` of `config`; must be `sha256:<id>`. */
  configDigest: string;
  /** The config bytes exactly as the registry served them: c/image checks them against the manifest. */
  config: Buffer;
  /** RFC 3339 time (the config's `created`, else the conversion time). */
  created: string;
  /** Repository path of the flattened image directory, e.g. `/.images/ab/cdef…` or `/.flat/ab/cdef…`. */
  imageDir: string;
  /** Bytes of the image's files (`podman images` SIZE); spares Podman a walk of the whole tree. */
  size: number;
  /** Every uid and gid that owns a file in the image; c/storage sizes `--userns=auto` from them. */
  owners?: { uids: readonly number[]; gids: readonly number[] };
}

/** One thing to create in the repository, by absolute repository path. */
export type StoreEntry =
  | { path: string; kind: "dir" }
  | { path: string; kind: "file"; content: Buffer }
  | { path: string; kind: "symlink"; target: string };

/** The big-data items c/image writes for a pulled image: the config by digest, the manifest by digest and as `manifest`. */
function bigData(image: PodmanStoreImage): Array<{ key: string; content: Buffer; digest: string }> {
  return [
    { key: image.configDigest, content: image.config, digest: image.configDigest },
    { key: `manifest-${image.manifestDigest}`, content: image.manifest, digest: image.manifestDigest },
    { key: "manifest", content: image.manifest, digest: image.manifestDigest },
  ];
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;
// Go's time.Time decoder takes RFC 3339 only; one bad value fails images.json, and so every image.
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/;

const sha256 = (data: Buffer): string => `sha256:${createHash("sha256").update(data).digest("hex")}`;

function checkPath(what: string, path: string): void {
  if (!posix.isAbsolute(path) || posix.normalize(path) !== path || path.endsWith("/")) {
    throw new InternalError(`podman store: ${what} ${JSON.stringify(path)} is not a normalised absolute repository path`);
  }
}

/** Refuse what Podman would refuse later, at a worse time (images.json is read by every podman command). */
function checkImage(storeRoot: string, image: PodmanStoreImage): void {
  const what = `podman store image ${image.id}`;
  if (!/^[0-9a-f]{64}$/.test(image.id) || image.configDigest !== `sha256:${image.id}`) {
    throw new InternalError(`${what}: the ID must be the config digest's hex (config ${image.configDigest})`);
  }
  if (!DIGEST.test(image.manifestDigest)) throw new InternalError(`${what}: bad manifest digest ${image.manifestDigest}`);
  const configActual = sha256(image.config);
  if (configActual !== image.configDigest) throw new DigestMismatchError(`${what} config`, image.configDigest, configActual);
  const manifestActual = sha256(image.manifest);
  if (manifestActual !== image.manifestDigest) throw new DigestMismatchError(`${what} manifest`, image.manifestDigest, manifestActual);
  let named: unknown;
  try {
    named = (JSON.parse(image.manifest.toString("utf8")) as { config?: { digest?: unknown } }).config?.digest;
  } catch (err) {
    throw new ManifestError(`${what}: the manifest is not JSON`, { cause: err });
  }
  if (named !== image.configDigest) throw new ManifestError(`${what}: the manifest names config ${String(named)}, not ${image.configDigest}`);
  if (!RFC3339.test(image.created)) throw new InternalError(`${what}: created ${JSON.stringify(image.created)} is not RFC 3339`);
  if (!Number.isSafeInteger(image.size) || image.size < 0) throw new InternalError(`${what}: bad size ${image.size}`);
  for (const name of image.names) {
    if (name === "" || /\s/.test(name)) throw new InternalError(`${what}: bad name ${JSON.stringify(name)}`);
  }
  checkPath("image directory", image.imageDir);
  if (image.imageDir === storeRoot || image.imageDir.startsWith(`${storeRoot}/`)) {
    throw new InternalError(`${what}: image directory ${image.imageDir} is inside the store ${storeRoot}`);
  }
}

const sortedUnique = <T extends string | number>(values: Iterable<T>): T[] =>
  [...new Set(values)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

const byPath = (a: StoreEntry, b: StoreEntry): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
const byId = (a: { id: string }, b: { id: string }): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * Entries that belong to one image: `overlay-images/<id>/` with its big data, and its one layer's
 * `overlay/<layer>/{diff,link}` and `overlay/l/<short>`. Added when the image joins the store and
 * removed when it leaves (a moved tag changes only images.json). Sorted by path, so a directory
 * comes before what it holds; the store's fixed directories come from `podmanStoreFiles`.
 * `diff` is relative (`../../../.images/ab/…`), so the store works wherever the repository is mounted.
 */
export function podmanImageEntries(storeRoot: string, image: PodmanStoreImage): StoreEntry[] {
  checkPath("store root", storeRoot);
  checkImage(storeRoot, image);
  const imageData = posix.join(storeRoot, "overlay-images", image.id);
  const layer = podmanLayerId(image.id);
  const layerDir = posix.join(storeRoot, "overlay", layer);
  const link = podmanLinkId(layer);
  const entries: StoreEntry[] = [
    { path: imageData, kind: "dir" },
    ...bigData(image).map((d): StoreEntry => ({ path: posix.join(imageData, bigDataFileName(d.key)), kind: "file", content: d.content })),
    { path: layerDir, kind: "dir" },
    { path: posix.join(layerDir, "diff"), kind: "symlink", target: posix.relative(layerDir, image.imageDir) },
    // No newline: overlay.go joins the file's bytes into `l/<short>` as they are.
    { path: posix.join(layerDir, "link"), kind: "file", content: Buffer.from(link) },
    { path: posix.join(storeRoot, "overlay", "l", link), kind: "symlink", target: `../${layer}/diff` },
  ];
  return entries.sort(byPath);
}

/**
 * The images.json record of one image (images.go Image), names sorted and deduplicated, keys in a
 * fixed order so equal input gives equal bytes.
 */
export function podmanImageRecord(image: PodmanStoreImage): PodmanImageRecord {
  const items = bigData(image);
  return {
    id: image.id,
    digest: image.manifestDigest,
    names: sortedUnique(image.names),
    layer: podmanLayerId(image.id),
    "big-data-names": items.map((d) => d.key),
    "big-data-sizes": Object.fromEntries(items.map((d) => [d.key, d.content.length])),
    "big-data-digests": Object.fromEntries(items.map((d) => [d.key, d.digest])),
    created: image.created,
  };
}

/**
 * The layers.json record of an image's one layer (layers.go Layer). No `compressed-diff-digest`:
 * no registry blob is this flattened tree, and c/image reuses a layer found by a blob's digest when
 * it pulls, so claiming one would graft this tree under someone else's image.
 */
export function podmanLayerRecord(image: PodmanStoreImage): PodmanLayerRecord {
  return {
    id: podmanLayerId(image.id),
    created: image.created,
    "diff-digest": podmanDiffDigest(image.id),
    "diff-size": image.size,
    ...(image.owners ? { uidset: sortedUnique(image.owners.uids), gidset: sortedUnique(image.owners.gids) } : {}),
  };
}

/**
 * The repository paths `podmanImageEntries` creates for image `id` that hold nothing else: its
 * big-data directory, its layer directory and its short link. Removing them (recursively) takes
 * the image out of the store once the shared files no longer name it.
 */
export function podmanImagePaths(storeRoot: string, id: string): string[] {
  checkPath("store root", storeRoot);
  const layer = podmanLayerId(id);
  return [posix.join(storeRoot, "overlay", layer), posix.join(storeRoot, "overlay", "l", podmanLinkId(layer)), posix.join(storeRoot, "overlay-images", id)].sort();
}

/**
 * The shared files from records as they are (records read back from the repository keep fields this
 * tool does not know): the store's fixed directories, `overlay-images/images.json` and
 * `overlay-layers/layers.json` (records sorted by ID, each written as given: keep names sorted, as
 * `podmanImageRecord` makes them, so an unchanged store gives unchanged bytes) and the empty
 * `images.lock` and `layers.lock`. c/storage opens the lock files with O_CREAT even to read; on a
 * read-only filesystem that fails when they are missing, and then every podman command fails, so
 * they are always written.
 * Throws when two records share an ID or a name: c/storage refuses a read-only store that gives one
 * name to two images ("read-only image store assigns the same name to multiple images"), again for
 * every command, so two platforms of one tag need names of their own, or stores of their own.
 */
export function podmanSharedFiles(storeRoot: string, images: readonly PodmanImageRecord[], layers: readonly PodmanLayerRecord[]): StoreEntry[] {
  checkPath("store root", storeRoot);
  const owner = new Map<string, string>();
  const sortedImages = [...images].sort(byId);
  for (const [i, image] of sortedImages.entries()) {
    if (sortedImages[i + 1]?.id === image.id) throw new InternalError(`podman store: image ${image.id} appears twice; give one record all its names`);
    for (const name of image.names ?? []) {
      const other = owner.get(name);
      if (other !== undefined && other !== image.id) throw new InternalError(`podman store: name ${name} is on images ${other} and ${image.id}`);
      owner.set(name, image.id);
    }
  }
  const sortedLayers = [...layers].sort(byId);
  for (const [i, layer] of sortedLayers.entries()) {
    if (sortedLayers[i + 1]?.id === layer.id) throw new InternalError(`podman store: layer ${layer.id} appears twice`);
  }
  const json = (value: unknown): Buffer => Buffer.from(`${JSON.stringify(value)}\n`);
  const entries: StoreEntry[] = [
    ...["", "overlay", "overlay/l", "overlay-images", "overlay-layers"].map((d): StoreEntry => ({ path: posix.join(storeRoot, d), kind: "dir" })),
    { path: posix.join(storeRoot, "overlay-images", "images.json"), kind: "file", content: json(sortedImages) },
    { path: posix.join(storeRoot, "overlay-images", "images.lock"), kind: "file", content: Buffer.alloc(0) },
    { path: posix.join(storeRoot, "overlay-layers", "layers.json"), kind: "file", content: json(sortedLayers) },
    { path: posix.join(storeRoot, "overlay-layers", "layers.lock"), kind: "file", content: Buffer.alloc(0) },
  ];
  return entries.sort(byPath);
}

/**
 * The shared files for exactly `images` (see podmanSharedFiles), rewritten whenever the set of
 * images or their names changes. Checks every image as podmanImageEntries does.
 */
export function podmanStoreFiles(storeRoot: string, images: readonly PodmanStoreImage[]): StoreEntry[] {
  checkPath("store root", storeRoot);
  for (const image of images) checkImage(storeRoot, image);
  return podmanSharedFiles(storeRoot, images.map(podmanImageRecord), images.map(podmanLayerRecord));
}
