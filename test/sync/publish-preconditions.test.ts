import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { CatalogEditor } from "../../src/cvmfs/catalog/editor.js";
import { createLayout, linkTarget } from "../../src/published/layout.js";
import { checkPreconditions } from "../../src/sync/publish-preconditions.js";
import { emptyPublishedState, type PublishedState } from "../../src/published/published-state.js";
import { storeLoader, T0, useStores } from "../cvmfs/catalog/catalog-support.js";
import { digest } from "./_fixtures.js";

const stores = useStores();
const layout = createLayout();
const dirA = layout.imageDir(digest("a"));
const dirB = layout.imageDir(digest("b"));
const meta = { mode: 0o644, uid: 0, gid: 0, mtime: T0, mtimeNs: 0 };

/** An editor on a repository with /ns/x:1 → A, /ns/y:1 → B and an owners file; and its state. */
async function setup(): Promise<{ editor: CatalogEditor; state: PublishedState }> {
  const store = await stores.store();
  const editor = await CatalogEditor.open(null, storeLoader(store, stores.dir()), { mtime: T0 });
  await editor.ensureDir(dirA);
  await editor.ensureDir(dirB);
  await editor.putSymlink("/ns/x:1", linkTarget("/ns/x:1", dirA));
  await editor.putSymlink("/ns/y:1", linkTarget("/ns/y:1", dirB));
  await editor.putFile(layout.ownersPath, await store.putFile(Readable.from([Buffer.from("{}")])), meta);
  const state = emptyPublishedState();
  state.tags.set("/ns/x:1", dirA).set("/ns/y:1", dirB);
  state.fileHashes[layout.ownersPath] = (await editor.lookup(layout.ownersPath))!.hash!;
  return { editor, state };
}

describe("checkPreconditions", () => {
  it("passes when the names, files and removals are as planned", async () => {
    const { editor, state } = await setup();
    expect(await checkPreconditions(editor, { layout, state, names: ["/ns/x:1", "/ns/y:1", "/ns/new:1"], files: [layout.ownersPath], removals: [] })).toEqual([]);
    editor.close();
  });

  it("names every name that moved, appeared or went, a rewritten file, and a new name on an image it would delete", async () => {
    const { editor, state } = await setup();
    const store = await stores.store();
    await editor.putSymlink("/ns/x:1", linkTarget("/ns/x:1", dirB)); // moved by another run
    await editor.remove("/ns/y:1"); // removed by another run
    await editor.putSymlink("/ns/new:1", linkTarget("/ns/new:1", dirA)); // added by another run
    await editor.putSymlink("/other/z:1", linkTarget("/other/z:1", dirA)); // not in this plan, on an image it deletes
    await editor.putFile(layout.ownersPath, await store.putFile(Readable.from([Buffer.from('{"x":1}')])), meta);
    const problems = await checkPreconditions(editor, { layout, state, names: ["/ns/x:1", "/ns/y:1", "/ns/new:1"], files: [layout.ownersPath], removals: [dirA] });
    expect(problems).toEqual([
      `/ns/x:1 now points at ${dirB}, planned from ${dirA}`,
      `/ns/y:1 now does not exist, planned from ${dirB}`,
      `/ns/new:1 now points at ${dirA}, planned from nothing there`,
      `${layout.ownersPath} was changed by another run`,
      `/ns/new:1 now points at ${dirA}, which this run would delete`,
      `/other/z:1 now points at ${dirA}, which this run would delete`,
    ]);
    editor.close();
  });
});
