import { describe, expect, it } from "vitest";
import { parseFormats } from "../../src/runtimes/formats.js";
import { nextPodmanNames, podmanName } from "../../src/runtimes/podman-names.js";
import { updatePodmanStore } from "../../src/runtimes/podman-update.js";
import { createLayout } from "../../src/published/layout.js";
import { parseImageReference } from "../../src/wishlist/reference.js";

const A = "a".repeat(64);
const B = "b".repeat(64);
const C = "c".repeat(64);
const layout = createLayout();
const publicPathOf = (name: string) => layout.publicPath(parseImageReference(name));

describe("podmanName", () => {
  it("is the normalised tag form; a digest-only reference has none", () => {
    expect(podmanName("docker.io/library/centos:7")).toBe("docker.io/library/centos:7");
    expect(podmanName("docker.io/library/centos:7@sha256:" + "1".repeat(64))).toBe("docker.io/library/centos:7");
    expect(podmanName("docker.io/library/centos@sha256:" + "1".repeat(64))).toBeUndefined();
  });
});

describe("nextPodmanNames", () => {
  const previous = [
    { id: A, names: ["docker.io/library/centos:7", "docker.io/library/centos:latest"] },
    { id: B, names: ["ghcr.io/org/tool:1"] },
  ];
  const everything = { publicPathOf, inStore: () => true };

  it("moves a name with its public name, and keeps the names this run did not touch", () => {
    const names = nextPodmanNames(previous, [{ publicPath: "/library/centos:latest", reference: "docker.io/library/centos:latest", hex: C }], everything);
    expect(Object.fromEntries(names)).toEqual({ [A]: ["docker.io/library/centos:7"], [B]: ["ghcr.io/org/tool:1"], [C]: ["docker.io/library/centos:latest"] });
  });

  it("drops the name of a removed public name even when the run no longer knows the reference", () => {
    const names = nextPodmanNames(previous, [{ publicPath: "/org/tool:1" }], everything);
    expect(Object.fromEntries(names)).toEqual({ [A]: ["docker.io/library/centos:7", "docker.io/library/centos:latest"] });
  });

  it("drops a name that moves to an image the store will not hold", () => {
    const names = nextPodmanNames(previous, [{ publicPath: "/library/centos:7", reference: "docker.io/library/centos:7", hex: C }], { publicPathOf, inStore: (hex) => hex !== C });
    expect(names.get(A)).toEqual(["docker.io/library/centos:latest"]);
    expect(names.has(C)).toBe(false);
  });
});

describe("updatePodmanStore", () => {
  const lists = {
    images: [{ id: A, names: ["x:1"], layer: "l".repeat(64), extra: "kept as it was" }],
    layers: [{ id: "l".repeat(64), "diff-size": 3 }],
  };

  it("changes nothing when the lists would come out as they are", () => {
    expect(updatePodmanStore("/podmanStore", lists, [], new Map([[A, ["x:1"]]]), new Set([A]))).toEqual({ changed: false, write: [], remove: [] });
  });

  it("renames in place, keeping fields it does not know, and removes an image that leaves", () => {
    const renamed = updatePodmanStore("/podmanStore", lists, [], new Map([[A, ["x:1", "x:2"]]]), new Set([A]));
    expect(renamed.changed).toBe(true);
    const images = renamed.write.find((e) => e.path === "/podmanStore/overlay-images/images.json");
    expect(images?.kind === "file" && JSON.parse(images.content.toString())).toEqual([{ id: A, names: ["x:1", "x:2"], layer: "l".repeat(64), extra: "kept as it was" }]);
    const gone = updatePodmanStore("/podmanStore", lists, [], new Map(), new Set());
    expect(gone.remove).toEqual([`/podmanStore/overlay-images/${A}`, expect.stringMatching(/^\/podmanStore\/overlay\/[0-9a-f]{64}$/), expect.stringMatching(/^\/podmanStore\/overlay\/l\/[A-Z2-7]{26}$/)]);
    const layersJson = gone.write.find((e) => e.path === "/podmanStore/overlay-layers/layers.json");
    expect(layersJson?.kind === "file" && JSON.parse(layersJson.content.toString())).toEqual([]);
  });
});

describe("parseFormats", () => {
  it("always has the sandbox, first, and orders the rest", () => {
    expect(parseFormats(undefined)).toEqual(["sandbox"]);
    expect(parseFormats("layers,podman")).toEqual(["sandbox", "podman", "layers"]);
    expect(parseFormats("podman layers sandbox")).toEqual(["sandbox", "podman", "layers"]);
  });

  it("names an unknown format and the ones there are", () => {
    expect(() => parseFormats("sandbox,docker")).toThrow(/--formats: unknown format "docker"; choose from sandbox, podman, layers/);
  });
});
