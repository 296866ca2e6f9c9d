import { describe, expect, it } from "vitest";
import { assembleEventSnapshot } from "../../src/events/read-event-state.js";
import { IMAGE_METADATA_PATH } from "../../src/published/image-metadata.js";
import { createLayout, linkTarget } from "../../src/published/layout.js";
import { assemblePublishedState } from "../../src/published/published-state.js";
import { digest, hexOf, metadata } from "../sync/_fixtures.js";

const layout = createLayout();
const dir = (config: string): string => layout.imageDir(digest(config));
const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

describe("assembleEventSnapshot", () => {
  it("gives the state of the event's names only: their images, a dangling name, owners; no index", () => {
    const snapshot = assembleEventSnapshot(layout, {
      imagesRoot: [
        { name: dir("c1").split("/")[2]!, type: "dir" },
        { name: dir("c2").split("/")[2]!, type: "dir" },
        { name: ".index.json", type: "file", hash: "aa" },
        { name: ".owners.json", type: "file", hash: "bb" },
      ],
      files: {
        [`${dir("c1")}/${IMAGE_METADATA_PATH}`]: json(metadata("c1", "m1", ["r.example.org/sites/app:1"])),
        [layout.ownersPath]: json({ version: 1, names: { "/sites/app:1": ["site"], "/sites/other:1": ["other"] } }),
      },
      links: new Map([
        ["/sites/app:1", linkTarget("/sites/app:1", dir("c1"))],
        ["/sites/gone:1", linkTarget("/sites/gone:1", dir("c9"))],
      ]),
      imageDirs: [dir("c1")],
    });
    const state = assemblePublishedState(layout, snapshot);
    expect([...state.images.keys()]).toEqual([hexOf("c1")]);
    expect(state.images.get(hexOf("c1"))?.metadata?.manifestDigest).toBe(digest("m1"));
    expect(Object.fromEntries(state.tags)).toEqual({ "/sites/app:1": dir("c1") });
    expect(Object.fromEntries(state.dangling)).toEqual({ "/sites/gone:1": dir("c9") });
    expect(Object.fromEntries(state.owners)).toEqual({ "/sites/app:1": ["site"], "/sites/other:1": ["other"] });
    expect(state.fileHashes).toEqual({ [layout.ownersPath]: "bb" });
    // The index is not read: a run from this state must leave it alone (index: "leave").
    expect(state.index).toBe("missing");
  });

  it("an image directory it looked at whose metadata could not be read is there, without metadata", () => {
    const state = assemblePublishedState(layout, assembleEventSnapshot(layout, { imagesRoot: [{ name: dir("c2").split("/")[2]!, type: "dir" }], files: {}, links: new Map(), imageDirs: [dir("c2")] }));
    expect(state.images.get(hexOf("c2"))).toEqual({ hex: hexOf("c2"), dir: dir("c2") });
    expect(state.problems).toEqual([`${dir("c2")}: no image metadata (${IMAGE_METADATA_PATH})`]);
  });
});
