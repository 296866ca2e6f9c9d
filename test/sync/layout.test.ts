import path from "node:path";
import { describe, expect, it } from "vitest";
import { InternalError } from "../../src/errors.js";
import { createLayout, leasePathFor, linkTarget } from "../../src/published/layout.js";
import { parseImageReference } from "../../src/wishlist/reference.js";

const hex = "ab" + "0123456789abcdef".repeat(3) + "0123456789abcd";
const config = `sha256:${hex}`;
const digest = `sha256:${"9f".repeat(32)}`;

describe("layout", () => {
  it("keys image directories by the config digest hex", () => {
    expect(createLayout().imageDir(config)).toBe(`/.images/ab/${hex.slice(2)}`);
    expect(createLayout({ kind: "osg-registry" }).imageDir(config)).toBe(`/.images/ab/${hex.slice(2)}`);
    expect(createLayout({ kind: "ducc" }).imageDir(config)).toBe(`/.flat/ab/${hex}`);
    expect(() => createLayout().imageDir("latest")).toThrow(InternalError);
  });

  it("reads the config hex back from an image directory, and nothing else", () => {
    const osg = createLayout();
    const ducc = createLayout({ kind: "ducc" });
    expect(osg.configHexOf(osg.imageDir(config))).toBe(hex);
    expect(ducc.configHexOf(ducc.imageDir(config))).toBe(hex);
    expect(osg.configHexOf(`/.images/ab`)).toBeUndefined();
    expect(osg.configHexOf(`/.flat/ab/${hex}`)).toBeUndefined();
    expect(ducc.configHexOf(`/.flat/cd/${hex}`)).toBeUndefined();
    expect(osg.configHexOf(`/.images/ab/not-hex`)).toBeUndefined();
  });

  it.each([
    ["osg", "centos:7", "/library/centos:7"],
    ["osg", "myorg/tool", "/myorg/tool:latest"],
    ["osg", "ghcr.io/org/team/x:1.0", "/org/team/x:1.0"],
    ["osg", "127.0.0.1:5000/ns/name:t", "/ns/name:t"],
    ["osg", `ns/name@${digest}`, `/ns/name:sha256-${"9f".repeat(32)}`],
    ["osg", `ns/name:v1@${digest}`, "/ns/name:v1"],
    ["osg-registry", "centos:7", "/docker.io/library/centos:7"],
    ["osg-registry", "127.0.0.1:5000/ns/name:t", "/127.0.0.1:5000/ns/name:t"],
    ["ducc", "centos:7", "/registry.hub.docker.com/library/centos:7"],
    ["ducc", "gitlab-registry.example.ch/a/b/c:v2", "/gitlab-registry.example.ch/a/b/c:v2"],
    ["ducc", `ghcr.io/x/y@${digest}`, `/ghcr.io/x/y:sha256-${"9f".repeat(32)}`],
  ] as const)("%s: %s → %s", (kind, ref, expected) => {
    expect(createLayout({ kind }).publicPath(parseImageReference(ref))).toBe(expected);
  });

  it("makes relative link targets that resolve to the image directory at any depth", () => {
    for (const kind of ["osg", "osg-registry", "ducc"] as const) {
      const layout = createLayout({ kind });
      const dir = layout.imageDir(config);
      for (const ref of ["centos:7", "a/b:1", "ghcr.io/a/b/c/d:2", "h.example:5000/x/y/z:3"]) {
        const pub = layout.publicPath(parseImageReference(ref));
        const target = linkTarget(pub, dir);
        expect(target.startsWith("../")).toBe(true);
        expect(path.posix.resolve(path.posix.dirname(pub), target)).toBe(dir);
      }
    }
    expect(linkTarget("/library/centos:7", `/.images/ab/${hex.slice(2)}`)).toBe(`../.images/ab/${hex.slice(2)}`);
    expect(linkTarget("/org/team/x:1", `/.images/ab/${hex.slice(2)}`)).toBe(`../../.images/ab/${hex.slice(2)}`);
    expect(linkTarget("/docker.io/library/centos:7", `/.images/ab/${hex.slice(2)}`)).toBe(`../../.images/ab/${hex.slice(2)}`);
  });

  it("leases the deepest directory holding every changed entry's parent", () => {
    expect(leasePathFor("images.local", [`/.images/ab/${hex.slice(2)}`])).toBe("images.local/.images/ab");
    expect(leasePathFor("images.local", [`/.images/ab/${hex.slice(2)}`, `/.images/ab/ffff`])).toBe("images.local/.images/ab");
    expect(leasePathFor("images.local", [`/.images/ab/x`, `/.images/cd/y`])).toBe("images.local/.images");
    expect(leasePathFor("images.local", [`/.images/ab/x`, "/library/centos:7"])).toBe("images.local/");
    expect(leasePathFor("images.local", ["/org/team/x:1", "/org/team/y:1"])).toBe("images.local/org/team");
    // components, not characters: /org/te is not an ancestor of /org/team
    expect(leasePathFor("images.local", ["/org/te/x", "/org/team/y"])).toBe("images.local/org");
    expect(leasePathFor("images.local", [])).toBe("images.local/");
  });

  it("puts the removal schedule beside the image fan-out", () => {
    expect(createLayout().removalSchedulePath).toBe("/.images/.removal-schedule.json");
    expect(createLayout({ kind: "ducc" }).removalSchedulePath).toBe("/.flat/.removal-schedule.json");
  });
});
