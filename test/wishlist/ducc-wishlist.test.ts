import { describe, expect, it } from "vitest";
import { parseDuccWishlist } from "../../src/wishlist/ducc-wishlist.js";
import { entryKey } from "../../src/wishlist/entry.js";

const digest = `sha256:${"5e".repeat(32)}`;

// A recipe in the style of unpacked.cern.ch's: quoted URLs with scheme, Docker Hub spelled
// registry.hub.docker.com, a GitLab registry with deep paths, wildcard tags, comments.
const recipe = `version: 1
user: cvmfsunpacker
cvmfs_repo: 'unpacked.example.ch'
output_format: '$(scheme)://registry.example.ch/unpacked/$(image)'
input:
# base images
  - 'https://registry.hub.docker.com/library/centos:centos7'
  - 'https://registry.hub.docker.com/library/debian:stable'
  - https://registry.hub.docker.com/someuser/analysis:v3   # unquoted
  - "https://gitlab-registry.example.ch/physics/sim/generator:*"
  - 'https://gitlab-registry.example.ch/physics/sim/reco:v1.*'
  - 'https://ghcr.io/lab/tool@${digest}'
  - 'http://127.0.0.1:5000/local/test:1'
  - 'registry.hub.docker.com/library/alpine:3.19'
`;

describe("parseDuccWishlist", () => {
  it("parses a recipe with line numbers from the YAML nodes", () => {
    const result = parseDuccWishlist("recipe.yaml", recipe);
    expect(result.problems).toEqual([]);
    expect(result.warnings).toEqual([]);
    expect(result.settings).toEqual({
      version: 1,
      user: "cvmfsunpacker",
      cvmfsRepo: "unpacked.example.ch",
      outputFormat: "$(scheme)://registry.example.ch/unpacked/$(image)",
    });
    expect(result.entries.map((e) => [e.line, entryKey(e), e.tagPattern])).toEqual([
      [7, "docker.io/library/centos:centos7", undefined],
      [8, "docker.io/library/debian:stable", undefined],
      [9, "docker.io/someuser/analysis:v3", undefined],
      [10, "gitlab-registry.example.ch/physics/sim/generator:*", "*"],
      [11, "gitlab-registry.example.ch/physics/sim/reco:v1.*", "v1.*"],
      [12, `ghcr.io/lab/tool@${digest}`, undefined],
      [13, "127.0.0.1:5000/local/test:1", undefined],
      [14, "docker.io/library/alpine:3.19", undefined],
    ]);
  });

  it("reports bad items, bad version and unknown keys with their lines", () => {
    const text = ["version: 2", "cvmfs_repo: x.example", "inputs: []", "input:", "  - 'https://ghcr.io/Bad/Name:1'", "  - 42", "  - 'https://ghcr.io/ok/name:1'"].join("\n");
    const result = parseDuccWishlist("r.yml", text);
    expect(result.problems.map((p) => [p.line, p.message.slice(0, 30)])).toEqual([
      [1, "unsupported recipe version 2 ("],
      [5, 'invalid image reference "ghcr.'],
      [6, "an `input` item must be an ima"],
    ]);
    expect(result.warnings).toEqual([{ file: "r.yml", line: 3, message: 'unknown key "inputs" ignored' }]);
    expect(result.entries.map((e) => e.line)).toEqual([7]);
  });

  it("reports YAML syntax errors and a missing or misshapen input", () => {
    expect(parseDuccWishlist("r.yaml", "version: 1\ninput: [unclosed\n").problems[0]).toMatchObject({ file: "r.yaml", message: expect.stringMatching(/^YAML: /) });
    expect(parseDuccWishlist("r.yaml", "version: 1\ncvmfs_repo: a.b\n").problems).toEqual([{ file: "r.yaml", line: 1, message: "no `input` list" }]);
    expect(parseDuccWishlist("r.yaml", "version: 1\ninput: centos:7\n").problems).toEqual([
      { file: "r.yaml", line: 2, message: "`input` must be a list of image references" },
    ]);
    expect(parseDuccWishlist("r.yaml", "- a\n- b\n").problems[0]!.message).toContain("YAML mapping");
  });

  it("reads an empty document (or only comments) as an empty wishlist", () => {
    for (const text of ["", "\n", "# nothing yet\n"]) {
      expect(parseDuccWishlist("r.yaml", text)).toMatchObject({ entries: [], problems: [], warnings: [] });
    }
  });

  it("warns when the version is missing and accepts an empty input list", () => {
    const result = parseDuccWishlist("r.yaml", "input: []\n");
    expect(result.problems).toEqual([]);
    expect(result.entries).toEqual([]);
    expect(result.warnings[0]!.message).toContain("no `version`");
  });
});
