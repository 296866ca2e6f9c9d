import { describe, expect, it } from "vitest";
import {
  APPTAINER_COMPAT_VERSION,
  assembleLabels,
  formatLabelsJson,
  labelSchemaDate,
} from "../../src/sandbox/labels.js";

const buildDate = new Date("2026-01-02T03:04:05Z");
const digest = `sha256:${"ab".repeat(32)}`;

describe("assembleLabels", () => {
  it("adds Apptainer's build labels over the image's own", () => {
    const labels = assembleLabels(
      { maintainer: "someone", "org.label-schema.schema-version": "0.9", "org.opencontainers.image.created": "old" },
      { reference: "alpine:3.20", resolvedDigest: digest, architecture: "amd64", buildDate },
    );
    expect(labels).toEqual({
      maintainer: "someone",
      "org.label-schema.schema-version": "1.0",
      "org.opencontainers.image.created": "2026-01-02T03:04:05Z",
      "org.label-schema.build-date": "Friday_2_January_2026_3:4:5_UTC",
      "org.label-schema.usage.apptainer.version": APPTAINER_COMPAT_VERSION,
      "org.label-schema.usage.singularity.deffile.bootstrap": "docker",
      "org.label-schema.usage.singularity.deffile.from": "alpine:3.20",
      "org.opencontainers.image.base.name": "docker.io/library/alpine:3.20",
      "org.opencontainers.image.base.digest": digest,
      "org.opencontainers.image.architecture": "amd64",
      "org.label-schema.build-arch": "amd64",
    });
  });

  it("records an arm variant, and no variant for other architectures", () => {
    const arm = assembleLabels(null, { reference: "x/y:1", resolvedDigest: digest, architecture: "arm", variant: "v7", buildDate });
    expect(arm["org.opencontainers.image.variant"]).toBe("v7");
    const arm64 = assembleLabels(null, { reference: "x/y:1", resolvedDigest: digest, architecture: "arm64", variant: "v8", buildDate });
    expect(arm64["org.opencontainers.image.variant"]).toBeUndefined();
    expect(arm64["org.opencontainers.image.base.name"]).toBe("docker.io/x/y:1");
  });

  it("takes the version from the input when given", () => {
    const l = assembleLabels(undefined, { reference: "a", resolvedDigest: digest, buildDate, apptainerVersion: "1.3.0" });
    expect(l["org.label-schema.usage.apptainer.version"]).toBe("1.3.0");
  });
});

describe("labelSchemaDate", () => {
  it.each([
    ["2026-11-24T04:35:42Z", "Tuesday_24_November_2026_4:35:42_UTC"],
    ["2025-12-31T23:59:09Z", "Wednesday_31_December_2025_23:59:9_UTC"],
    ["2024-02-29T00:00:00Z", "Thursday_29_February_2024_0:0:0_UTC"],
  ])("%s → %s", (iso, want) => {
    expect(labelSchemaDate(new Date(iso))).toBe(want);
  });
});

describe("formatLabelsJson", () => {
  it("writes Go's MarshalIndent output: sorted keys, tab indent, no final newline", () => {
    expect(formatLabelsJson({ b: "2", a: "1", "a.b": "x" })).toBe('{\n\t"a": "1",\n\t"a.b": "x",\n\t"b": "2"\n}');
  });

  it("writes {} for no labels", () => {
    expect(formatLabelsJson({})).toBe("{}");
  });

  it("escapes as Go does: HTML characters, line separators, control characters", () => {
    const text = formatLabelsJson({ k: `<a href="x">&</a>\u2028\u2029\n\t\b\f\u0001\u007f\\` });
    expect(text).toBe(`{\n\t"k": "\\u003ca href=\\"x\\"\\u003e\\u0026\\u003c/a\\u003e\\u2028\\u2029\\n\\t\\b\\f\\u0001\u007f\\\\"\n}`);
  });

  it("replaces a lone surrogate with U+FFFD, as Go does with invalid UTF-8", () => {
    expect(formatLabelsJson({ k: "a\uD800b" })).toBe('{\n\t"k": "a\uFFFDb"\n}');
  });

  it("sorts keys by UTF-8 bytes, not UTF-16 units", () => {
    // U+FF21 sorts after U+1F600 in UTF-16 code units but before it in UTF-8 bytes
    const text = formatLabelsJson({ "\u{1F600}": "1", "\uFF21": "2" });
    expect(text.indexOf("\uFF21")).toBeLessThan(text.indexOf("\u{1F600}"));
  });

  it("round-trips through JSON.parse", () => {
    const labels = { "org.opencontainers.image.title": 'a "quoted" <title> & more', other: "ünïcödé" };
    expect(JSON.parse(formatLabelsJson(labels))).toEqual(labels);
  });
});
