import type { Platform } from "../registry/image.js";
import { normalizePlatform } from "../registry/platform.js";

/**
 * The names of the per-architecture tree, `/.multiarch/<arch>/<public name>`, shaped as CERN
 * DUCC's multi-architecture publishing shapes it, and the links that let one path resolve to the
 * node's own architecture.
 *
 * A CVMFS client expands `$(VAR)` in a symlink's target from its own environment and sets
 * `CVMFS_ARCH` itself to the node's `uname -m` (`x86_64`, `aarch64`, `ppc64le`). The tree's
 * directories carry OCI architecture names (`amd64`, `arm64`), so two alias links map the kernel's
 * names onto them; `ppc64le` and `s390x` are the same in both vocabularies and need none.
 */

/** The root of the per-architecture tree; a dot-directory, so it never collides with a public name. */
export const ARCH_ROOT = "/.multiarch";

/** The variant link in ARCH_ROOT that resolves, on each client, to that node's own architecture. */
export const HOST_LINK = "host";

/** Kernel architecture names (`uname -m`, hence `CVMFS_ARCH`) whose OCI name differs. */
export const ARCH_ALIASES: Readonly<Record<string, string>> = { x86_64: "amd64", aarch64: "arm64" };

/**
 * The directory name of a platform under ARCH_ROOT: its OCI architecture, with the variant
 * appended only where one architecture has several that a node tells apart (`arm-v7`, `arm-v6`).
 * `arm64/v8` is plain `arm64` (the only arm64 a kernel reports as `aarch64`), and amd64 levels
 * (`v2`, `v3`) all run on an `x86_64` node, so they share `amd64`.
 */
export function archDirName(platform: Platform): string {
  const p = normalizePlatform(platform);
  if (p.architecture === "arm" && p.variant !== undefined) return `arm-${p.variant}`;
  return p.architecture;
}

/** A symlink of the per-architecture tree: its path in the repository and its target as written. */
export interface ArchLink {
  path: string;
  target: string;
}

/**
 * The fixed links of the per-architecture tree: `host → $(CVMFS_ARCH)` (the variant symlink) and
 * the aliases `x86_64 → amd64`, `aarch64 → arm64`. Targets are relative, so the repository works
 * wherever it is mounted.
 */
export function archLinks(): ArchLink[] {
  return [
    { path: `${ARCH_ROOT}/${HOST_LINK}`, target: "$(CVMFS_ARCH)" },
    ...Object.entries(ARCH_ALIASES).map(([alias, arch]) => ({ path: `${ARCH_ROOT}/${alias}`, target: arch })),
  ];
}

/**
 * Whether the per-architecture tree holds nothing but its fixed links (`entries` are the names in
 * ARCH_ROOT): then its last name has gone, and the links and the root itself should go too, since
 * a `host` link into an empty tree only makes every node's lookup dangle.
 */
export function isBareArchRoot(entries: readonly string[]): boolean {
  const fixed = new Set(archLinks().map((l) => l.path.slice(ARCH_ROOT.length + 1)));
  return entries.every((name) => fixed.has(name));
}

/** A per-architecture name taken apart: its architecture directory and the usual name it mirrors. */
export interface ArchName {
  /** The directory under ARCH_ROOT (`arm64`, `amd64`, `arm-v7`). */
  arch: string;
  /** The usual public name the path mirrors (`/multi/app:1`). */
  publicPath: string;
  /** The same name through the variant link, which each node resolves to its own architecture. */
  hostPath: string;
  /** What `CVMFS_ARCH` (`uname -m`) is on the nodes the host path leads here from. */
  clientArch: string;
}

/** Pure: `/.multiarch/<arch>/<rest>` taken apart; undefined for any other path (or the links themselves). */
export function parseArchName(path: string): ArchName | undefined {
  if (!path.startsWith(`${ARCH_ROOT}/`)) return undefined;
  const rest = path.slice(ARCH_ROOT.length + 1);
  const slash = rest.indexOf("/");
  const arch = rest.slice(0, slash);
  if (slash <= 0 || arch === HOST_LINK || arch in ARCH_ALIASES) return undefined;
  const clientArch = Object.entries(ARCH_ALIASES).find(([, oci]) => oci === arch)?.[0] ?? arch;
  return { arch, publicPath: rest.slice(slash), hostPath: `${ARCH_ROOT}/${HOST_LINK}${rest.slice(slash)}`, clientArch };
}
