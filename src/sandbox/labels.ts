import { formatImageReference, parseImageReference } from "../wishlist/reference.js";

/**
 * `/.singularity.d/labels.json`: the image config's `Labels` plus the labels Apptainer's build adds
 * for a `docker://` source. `apptainer inspect` shows them. The added keys, which win over image
 * labels of the same name, are:
 *
 * | key | value |
 * |---|---|
 * | `org.label-schema.schema-version` | `1.0` |
 * | `org.opencontainers.image.created` | build time, RFC 3339 (UTC here: `2026-01-02T03:04:05Z`) |
 * | `org.label-schema.build-date` | build time as `Weekday_D_Month_YYYY_H:M:S_UTC` (no zero padding) |
 * | `org.label-schema.usage.apptainer.version` | the Apptainer version whose layout this is |
 * | `org.label-schema.usage.singularity.deffile.bootstrap` | `docker` |
 * | `org.label-schema.usage.singularity.deffile.from` | the reference as given |
 * | `org.opencontainers.image.base.name` | the normalised reference (`docker.io/library/x:tag`) |
 * | `org.opencontainers.image.base.digest` | digest the reference resolved to: the index's when it named one, else the manifest's |
 * | `org.opencontainers.image.architecture`, `org.label-schema.build-arch` | the image's architecture |
 * | `org.opencontainers.image.variant` | the variant, for `arm` only (Apptainer's arch table has variants only there) |
 */

/** The Apptainer release whose `build --sandbox` output these files reproduce. */
export const APPTAINER_COMPAT_VERSION = "1.5.3";

/** What the added labels are computed from. */
export interface BuildLabelInput {
  /** The image reference as the wishlist gives it (becomes the `from` of the definition). */
  reference: string;
  /** Digest the reference resolved to at the registry: the index digest when there was one. */
  resolvedDigest: string;
  architecture?: string;
  variant?: string;
  buildDate: Date;
  /** Defaults to {@link APPTAINER_COMPAT_VERSION}. */
  apptainerVersion?: string;
}

/** The labels as Apptainer stores them: image labels, then the build's labels over them. */
export function assembleLabels(
  imageLabels: Record<string, string> | null | undefined,
  input: BuildLabelInput,
): Record<string, string> {
  const labels: Record<string, string> = { ...(imageLabels ?? {}) };
  const date = input.buildDate;
  labels["org.label-schema.schema-version"] = "1.0";
  labels["org.opencontainers.image.created"] = `${date.toISOString().slice(0, 19)}Z`;
  labels["org.label-schema.build-date"] = labelSchemaDate(date);
  labels["org.label-schema.usage.apptainer.version"] = input.apptainerVersion ?? APPTAINER_COMPAT_VERSION;
  labels["org.label-schema.usage.singularity.deffile.bootstrap"] = "docker";
  labels["org.label-schema.usage.singularity.deffile.from"] = input.reference;
  labels["org.opencontainers.image.base.name"] = formatImageReference(parseImageReference(input.reference));
  labels["org.opencontainers.image.base.digest"] = input.resolvedDigest;
  const arch = input.architecture ?? "";
  labels["org.opencontainers.image.architecture"] = arch;
  if (arch === "arm" && input.variant) labels["org.opencontainers.image.variant"] = input.variant;
  labels["org.label-schema.build-arch"] = arch;
  return labels;
}

const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS = [
  "January", "February", "March", "April", "May", "June",
  "July", "August", "September", "October", "November", "December",
];

/** `Tuesday_24_November_2026_4:35:42_UTC`: Apptainer's unpadded label-schema build date. */
export function labelSchemaDate(date: Date): string {
  const day = `${date.getUTCDate()}_${MONTHS[date.getUTCMonth()]}_${date.getUTCFullYear()}`;
  const time = `${date.getUTCHours()}:${date.getUTCMinutes()}:${date.getUTCSeconds()}`;
  return `${WEEKDAYS[date.getUTCDay()]}_${day}_${time}_UTC`;
}

/**
 * The labels as Go's `json.MarshalIndent(labels, "", "\t")` writes them, byte for byte: keys in
 * byte order of their UTF-8 form, one per line, tab indent, `": "` separators, no final newline,
 * `{}` when empty; `<`, `>`, `&`, U+2028 and U+2029 escaped as `\u00xx`; a lone surrogate (not
 * valid UTF-8) replaced by U+FFFD.
 */
export function formatLabelsJson(labels: Record<string, string>): string {
  const keys = Object.keys(labels).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  if (keys.length === 0) return "{}";
  const lines = keys.map((k) => `\t${goJsonString(k)}: ${goJsonString(labels[k] ?? "")}`);
  return `{\n${lines.join(",\n")}\n}`;
}

/** A JSON string literal as Go's encoder writes it (HTML-safe escaping, U+FFFD for bad UTF-16). */
function goJsonString(text: string): string {
  const wellFormed = text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD");
  return JSON.stringify(wellFormed).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
