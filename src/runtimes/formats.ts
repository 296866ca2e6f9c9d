import { ConfigError } from "../errors.js";

/**
 * What a sync publishes for each image, one runtime's way of reading it each:
 * - `sandbox`: the flattened image directory Apptainer runs (always published: every public name
 *   and the Podman store point at it);
 * - `podman`: the image in the repository's Podman additional image store (`podmanStore/`);
 * - `layers`: each layer unflattened under `/.layers`, as containerd's CVMFS snapshotter mounts it.
 */
export const FORMATS = ["sandbox", "podman", "layers"] as const;
export type Format = (typeof FORMATS)[number];

/** The formats beyond the sandbox an image can have (what the published-state index records). */
export type ExtraFormat = Exclude<Format, "sandbox">;

/**
 * Parses `--formats` (comma or space separated). The sandbox is always included, first; the
 * others follow in FORMATS order whatever order they were given in.
 * @throws ConfigError naming an unknown format.
 */
export function parseFormats(text: string | undefined): Format[] {
  const listed = (text ?? "").split(/[\s,]+/).filter((f) => f !== "");
  const unknown = listed.filter((f) => !(FORMATS as readonly string[]).includes(f));
  if (unknown.length > 0) {
    throw new ConfigError(`--formats: unknown format${unknown.length > 1 ? "s" : ""} ${unknown.map((f) => `"${f}"`).join(", ")}; choose from ${FORMATS.join(", ")}`);
  }
  return FORMATS.filter((f) => f === "sandbox" || listed.includes(f));
}

/** The formats beyond the sandbox, in FORMATS order. */
export function extraFormats(formats: readonly Format[]): ExtraFormat[] {
  return formats.filter((f): f is ExtraFormat => f !== "sandbox");
}
