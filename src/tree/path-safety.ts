import { UnsafePathError } from "../errors.js";

/**
 * Path safety for the image tree: small pure predicates the applier calls, never re-implemented
 * inline. The image root is a root of its own, as a container sees it (chroot semantics): `..`
 * at the root stays at the root, and an absolute symlink target starts at the image root.
 * Lexical cleaning first, then symlink resolution over the tree, as umoci does (`CleanPath`
 * followed by `SecureJoinVFS`).
 */

/** The most symlinks one resolution follows before it is called a loop (Linux's MAXSYMLINKS is 40; SecureJoin allows 255). */
export const MAX_SYMLINKS = 255;

/** A tar name that is absolute or climbs with `..`: applied inside the root, but worth a warning. */
export function isUnsafeArchivePath(name: string): boolean {
  if (name.startsWith("/")) return true;
  return name.split("/").some((part) => part === "..");
}

/**
 * The clean absolute in-root form of a tar name: `./a//b/../c/` → `/a/c`, `../../etc` → `/etc`,
 * `""` and `.` → `/`. Purely lexical: symlinks are not looked at (that is `resolveInRoot`).
 */
export function cleanArchivePath(name: string): string {
  const out: string[] = [];
  for (const part of name.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return "/" + out.join("/");
}

/** Components of a clean absolute path (`/` has none). */
export function pathParts(clean: string): string[] {
  return clean === "/" ? [] : clean.slice(1).split("/");
}

/** Parent of a clean absolute path (`/` is its own parent). */
export function parentPath(clean: string): string {
  const i = clean.lastIndexOf("/");
  return i <= 0 ? "/" : clean.slice(0, i);
}

/** Last component of a clean absolute path (`""` for `/`). */
export function baseName(clean: string): string {
  return clean.slice(clean.lastIndexOf("/") + 1);
}

/**
 * Whether `name` is a single path component: not empty, not `.` or `..`, no `/` and no NUL.
 * Every name in an image tree is one; a name that is not would reach past its directory when
 * joined into a path.
 */
export function isSingleComponent(name: string): boolean {
  return name !== "" && name !== "." && name !== ".." && !name.includes("/") && !name.includes("\0");
}

/** `dir` + `/` + `name` for a clean absolute `dir`. */
export function joinPath(dir: string, name: string): string {
  return dir === "/" ? `/${name}` : `${dir}/${name}`;
}

/**
 * Looks at one clean absolute path of the tree without following anything: the target when the
 * path is a symlink, `undefined` when it is anything else or absent.
 */
export type ReadLink = (cleanPath: string) => string | undefined;

/** What `resolveInRootDetailed` found on the way. */
export interface Resolution {
  /** Clean absolute path inside the root. */
  path: string;
  /** Symlinks followed. */
  followed: number;
  /** A `..` tried to climb above the root and was held at it (a host would have left the tree). */
  clamped: boolean;
}

/**
 * Resolve every symlink in `path` (clean, absolute) inside the root, the last component
 * included. Absolute targets restart at the image root; `..` never climbs above it; missing
 * components are taken as they are (a later mkdir makes them). Throws `UnsafePathError` after
 * `MAX_SYMLINKS` links (a loop). Callers that must not follow the last component resolve
 * `parentPath(p)` and join `baseName(p)`.
 */
export function resolveInRootDetailed(path: string, readlink: ReadLink): Resolution {
  const resolved: string[] = [];
  // Components still to walk, the next one at the end of the array.
  const pending = pathParts(path).reverse();
  let followed = 0;
  let clamped = false;
  while (pending.length > 0) {
    const part = pending.pop()!;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (resolved.length === 0) clamped = true;
      resolved.pop();
      continue;
    }
    const candidate = "/" + [...resolved, part].join("/");
    const target = readlink(candidate);
    if (target === undefined) {
      resolved.push(part);
      continue;
    }
    if (++followed > MAX_SYMLINKS) throw new UnsafePathError(path, "too many levels of symbolic links");
    if (target.startsWith("/")) resolved.length = 0;
    for (const p of target.split("/").reverse()) pending.push(p);
  }
  return { path: "/" + resolved.join("/"), followed, clamped };
}

/** `resolveInRootDetailed(path, readlink).path`. */
export function resolveInRoot(path: string, readlink: ReadLink): string {
  return resolveInRootDetailed(path, readlink).path;
}

/**
 * Whether a symlink at `linkPath` (clean, absolute) with `target` names a place outside the root
 * when read lexically by a host that does not chroot: an absolute target, or more `..` than the
 * link's depth. Inside the image such links still resolve in the root; the materialiser never
 * follows them, and callers report them.
 */
export function escapesRoot(linkPath: string, target: string): boolean {
  if (target.startsWith("/")) return true;
  let depth = pathParts(parentPath(linkPath)).length;
  for (const part of target.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (--depth < 0) return true;
    } else depth++;
  }
  return false;
}

/** OCI whiteout name prefix (image-spec layer.md "Whiteouts"). */
export const WHITEOUT_PREFIX = ".wh.";
/** The opaque-directory marker. */
export const OPAQUE_WHITEOUT = ".wh..wh..opq";

/**
 * What a tar entry's last component means under the OCI rules: a plain name, a whiteout of
 * `name`, the opaque marker, or one of AUFS's other `.wh..wh.` metadata names that carry no
 * meaning in an image and are skipped.
 */
export type NameKind = { kind: "plain" } | { kind: "whiteout"; name: string } | { kind: "opaque" } | { kind: "meta" };

/** The `NameKind` of a last path component. */
export function classifyName(base: string): NameKind {
  if (!base.startsWith(WHITEOUT_PREFIX)) return { kind: "plain" };
  if (base === OPAQUE_WHITEOUT) return { kind: "opaque" };
  if (base.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX)) return { kind: "meta" };
  const name = base.slice(WHITEOUT_PREFIX.length);
  // `.wh.` alone, `.wh..` and `.wh...` would name the directory itself or its parent.
  if (name === "" || name === "." || name === "..") return { kind: "meta" };
  return { kind: "whiteout", name };
}
