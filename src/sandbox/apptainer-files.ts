import type { ImageConfig } from "../registry/image.js";
import type { ApptainerFile, ExistingPolicy } from "./apptainer-file.js";
import { assembleSingularityD } from "./singularity-d.js";

/** What `assembleApptainerFiles` derives the files from. */
export interface ApptainerFilesInput {
  /** The image's OCI config (Env, Entrypoint, Cmd, Labels, architecture). */
  config: ImageConfig;
  /** The image reference as given, e.g. `docker.io/library/alpine:3.20` or `alpine:3.20`. */
  reference: string;
  /** Digest of the image manifest. */
  manifestDigest: string;
  /** Digest of the index the manifest was chosen from, when the reference named an index. */
  indexDigest?: string;
  /** Digest of the config blob. Apptainer records none; accepted so callers pass the image whole. */
  configDigest?: string;
  /** Build time for the labels; defaults to now. Pass it for reproducible output. */
  buildDate?: Date;
  /** Version written to `org.label-schema.usage.apptainer.version`; defaults to the one reproduced. */
  apptainerVersion?: string;
  /**
   * Keep the image's own `/etc/hosts` and `/etc/resolv.conf` instead of emptying them as
   * Apptainer does (they are created empty only when missing). Default false.
   */
  keepImageEtcFiles?: boolean;
}

/** Top-level directories every sandbox has: runtime mount points and Apptainer's scratch dirs. */
const ROOT_DIRS = ["/dev", "/proc", "/root", "/var", "/var/tmp", "/tmp", "/etc", "/sys", "/home"];

/** Top-level links kept for Singularity 2.x tooling, which looked for these paths. */
const ROOT_LINKS: ReadonlyArray<readonly [string, string]> = [
  ["/singularity", ".singularity.d/runscript"],
  ["/.run", ".singularity.d/actions/run"],
  ["/.exec", ".singularity.d/actions/exec"],
  ["/.test", ".singularity.d/actions/test"],
  ["/.shell", ".singularity.d/actions/shell"],
  ["/environment", ".singularity.d/env/90-environment.sh"],
];

/**
 * Everything `apptainer build --sandbox DIR docker://IMAGE` adds to the unpacked image root,
 * as data: parents come before children, and applying the list in order reproduces the build
 * (see `applyApptainerFiles`). Pure apart from the default `buildDate`. Throws
 * `ImageReferenceError` when `reference` does not parse.
 */
export function assembleApptainerFiles(input: ApptainerFilesInput): ApptainerFile[] {
  const etcPolicy: ExistingPolicy = input.keepImageEtcFiles ? "keep" : "write-through";
  const singularityD = assembleSingularityD({
    config: input.config,
    reference: input.reference,
    resolvedDigest: input.indexDigest ?? input.manifestDigest,
    buildDate: input.buildDate ?? new Date(),
    apptainerVersion: input.apptainerVersion,
  });
  return [
    ...singularityD.filter((f) => f.type === "dir"),
    ...ROOT_DIRS.map((path): ApptainerFile => ({ path, type: "dir", mode: 0o755, onExisting: "keep" })),
    ...ROOT_LINKS.map(
      ([path, target]): ApptainerFile => ({ path, type: "symlink", mode: 0o777, target, onExisting: "keep-unless-symlink" }),
    ),
    { path: "/etc/hosts", type: "file", mode: 0o644, content: "", onExisting: etcPolicy },
    { path: "/etc/resolv.conf", type: "file", mode: 0o644, content: "", onExisting: etcPolicy },
    ...singularityD.filter((f) => f.type !== "dir"),
  ];
}
