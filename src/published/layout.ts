import path from "node:path";
import { InternalError } from "../errors.js";
import { ARCH_ROOT, archDirName } from "../platforms/arch-names.js";
import type { Platform } from "../registry/image.js";
import { DOCKER_HUB, type ImageReference } from "../wishlist/reference.js";

/**
 * Where things live in the repository (paths are absolute inside the repository, `/` being
 * `/cvmfs/<repo>`). A closed set of variants of one module, chosen once from settings:
 *
 * - `osg` (default, as singularity.opensciencegrid.org): images in `/.images/<2 hex>/<rest of hex>`,
 *   keyed by the hex of the image **config** digest (it names the diff_ids, so equal content shares
 *   one directory whatever its tag or registry); public names `/<namespace>/<name>:<tag>` with the
 *   registry dropped (`centos:7` → `/library/centos:7`, `ghcr.io/org/team/x:1` → `/org/team/x:1`).
 * - `osg-registry`: the same with the registry kept, `/<registry>/<namespace>/<name>:<tag>`, for
 *   repositories that mirror several registries whose names would clash without it.
 * - `ducc` (as unpacked.cern.ch): images in `/.flat/<2 hex>/<full hex>`; public names
 *   `/<registry>/<repository>:<tag>`, Docker Hub written `registry.hub.docker.com` as DUCC recipes
 *   name it, so existing paths keep working.
 *
 * Every public name is a **relative** symlink to its image directory (see `linkTarget`), so the
 * repository works wherever it is mounted.
 *
 * A reference pinned by digest alone gets the public name `<name>:<algo>-<hex>`
 * (`/library/centos:sha256-3f…`): `@` and a second `:` are legal path bytes but confuse tools that
 * split `host:path` or `name@version` (rsync, scp, shells' completion, some CI caches), while
 * `sha256-<hex>` is a well-formed tag string (the shape registries already use for
 * digest-derived tags such as signatures), so every public name keeps the one shape
 * `<path>:<tag-like>`. A reference with both tag and digest is published under its tag.
 */
export type LayoutOptions = { kind: "osg" } | { kind: "osg-registry" } | { kind: "ducc"; dockerHubHost?: string };

/** The name of a layout variant: `osg`, `osg-registry` or `ducc`. */
export type LayoutKind = LayoutOptions["kind"];

/** The layout chosen for a repository; see LayoutOptions for the variants. */
export interface RepositoryLayout {
  readonly kind: LayoutKind;
  /** Directory holding the image directories: `/.images` or `/.flat`. */
  readonly imagesRoot: string;
  /** The JSON file of the removal schedule (see removal-schedule.ts). */
  readonly removalSchedulePath: string;
  /** The JSON file of the published-state index (see published-index.ts). */
  readonly indexPath: string;
  /** The JSON file of the public names' owners (see name-owners.ts). */
  readonly ownersPath: string;
  /** The image directory for a config digest (`sha256:<hex>`); throws InternalError on a non-digest. */
  imageDir(configDigest: string): string;
  /** The config digest hex an image directory path stands for, or undefined if it is not one. */
  configHexOf(imageDir: string): string | undefined;
  /** The public name (symlink path) of a concrete reference (a tag or a digest, no pattern). */
  publicPath(ref: ImageReference): string;
  /** The Podman additional image store (`additionalimagestores = ["/cvmfs/<repo>/podmanStore"]`). */
  readonly podmanRoot: string;
  /**
   * The Podman store a public name goes to: the default one for the usual names (the run's
   * default platform), else its architecture's, `/.multiarch/<arch>/podmanStore`, which
   * `/.multiarch/host/podmanStore` resolves to on each node (one store cannot name two images alike).
   */
  podmanStoreOfName(publicPath: string): string;
  /** The per-layer directories containerd's CVMFS snapshotter mounts (`/.layers`, as DUCC). */
  readonly layersRoot: string;
  /**
   * A layer's directory, `/.layers/<2 hex>/<hex>` of its manifest (compressed blob) digest; the
   * snapshotter mounts its `layerfs` as an overlay lower directory (src/runtimes/layer-directories.ts).
   */
  layerDir(layerDigest: string): string;
  /** The root of the per-architecture names (`/.multiarch`, as DUCC's multi-architecture layout). */
  readonly archRoot: string;
  /**
   * The per-architecture name of a reference for one platform: `/.multiarch/<arch>` + its public
   * name (`/.multiarch/arm64/library/centos:7`; in the `ducc` layout
   * `/.multiarch/arm64/registry.hub.docker.com/library/centos:7`, DUCC's own shape).
   */
  archPath(ref: ImageReference, platform: Platform): string;
}

/** The name of a Podman store directory, at the root and in each architecture's directory. */
export const PODMAN_STORE = "podmanStore";

/** The same in every layout: the snapshotter knows only this path. */
const LAYERS_ROOT = "/.layers";

const DIGEST = /^([a-z0-9]+):([a-f0-9]{32,})$/;
const HEX = /^[a-f0-9]{32,}$/;

/** Build the layout for `options` (default `osg`). */
export function createLayout(options: LayoutOptions = { kind: "osg" }): RepositoryLayout {
  const flat = options.kind === "ducc";
  const imagesRoot = flat ? "/.flat" : "/.images";
  const dockerHubHost = options.kind === "ducc" ? (options.dockerHubHost ?? "registry.hub.docker.com") : DOCKER_HUB;
  const publicPath = (ref: ImageReference): string => {
    const name = `${ref.repository}:${publicTag(ref)}`;
    if (options.kind === "osg") return `/${name}`;
    const host = ref.registry === DOCKER_HUB ? dockerHubHost : ref.registry;
    return `/${host}/${name}`;
  };
  return {
    kind: options.kind,
    imagesRoot,
    archRoot: ARCH_ROOT,
    podmanRoot: `/${PODMAN_STORE}`,
    podmanStoreOfName(publicPath) {
      if (!publicPath.startsWith(`${ARCH_ROOT}/`)) return `/${PODMAN_STORE}`;
      return `${ARCH_ROOT}/${publicPath.split("/")[2] ?? ""}/${PODMAN_STORE}`;
    },
    layersRoot: LAYERS_ROOT,
    layerDir(layerDigest) {
      const hex = DIGEST.exec(layerDigest)?.[2];
      if (hex === undefined) throw new InternalError(`layer directory for "${layerDigest}": not a digest`);
      return `${LAYERS_ROOT}/${hex.slice(0, 2)}/${hex}`;
    },
    removalSchedulePath: `${imagesRoot}/.removal-schedule.json`,
    indexPath: `${imagesRoot}/.index.json`,
    ownersPath: `${imagesRoot}/.owners.json`,
    imageDir(configDigest) {
      const hex = DIGEST.exec(configDigest)?.[2];
      if (hex === undefined) throw new InternalError(`image directory for "${configDigest}": not a digest`);
      return flat ? `${imagesRoot}/${hex.slice(0, 2)}/${hex}` : `${imagesRoot}/${hex.slice(0, 2)}/${hex.slice(2)}`;
    },
    configHexOf(imageDir) {
      const parts = imageDir.split("/");
      if (parts.length !== 4 || `/${parts[1]}` !== imagesRoot) return undefined;
      const [prefix, rest] = [parts[2] ?? "", parts[3] ?? ""];
      const hex = flat ? (rest.startsWith(prefix) ? rest : "") : prefix + rest;
      return prefix.length === 2 && HEX.test(hex) ? hex : undefined;
    },
    publicPath,
    archPath(ref, platform) {
      return `${ARCH_ROOT}/${archDirName(platform)}${publicPath(ref)}`;
    },
  };
}

/** The part after the colon of a public name: the tag, or `<algo>-<hex>` for a digest-only reference. */
function publicTag(ref: ImageReference): string {
  if (ref.tag !== undefined) return ref.tag;
  if (ref.digest !== undefined) return ref.digest.replace(":", "-");
  throw new InternalError("public name of a reference with neither tag nor digest");
}

/**
 * The relative symlink target that makes `publicPath` point at `imageDir`: as many `..` as the
 * public name has parent directories below the root, then the image directory
 * (`/library/centos:7` → `../.images/ab/cd…`; `/a/b/c:1` → `../../.images/ab/cd…`).
 * `path.posix.resolve(dirname(publicPath), linkTarget(...))` is `imageDir`.
 */
export function linkTarget(publicPath: string, imageDir: string): string {
  return path.posix.relative(path.posix.dirname(publicPath), imageDir);
}

/**
 * The gateway lease path covering a set of changes: `<fqrn>` + the deepest directory that holds
 * the parent directory of every changed path (creating or removing an entry rewrites its parent's
 * listing, so the lease must cover the parent). Compared by path components, never by characters.
 * No paths, or paths with nothing in common below the root, lease the whole repository (`<fqrn>/`).
 */
export function leasePathFor(fqrn: string, changedPaths: readonly string[]): string {
  let common: string[] | undefined;
  for (const p of changedPaths) {
    const parent = path.posix.dirname(path.posix.resolve("/", p)).split("/").filter(Boolean);
    if (common === undefined) common = parent;
    else {
      let i = 0;
      while (i < common.length && i < parent.length && common[i] === parent[i]) i++;
      common = common.slice(0, i);
    }
  }
  return `${fqrn}/${(common ?? []).join("/")}`;
}
