import type { FileContent } from "../content/content-store.js";
import type { NodeMeta } from "./types.js";

/**
 * One tar entry of a layer, decoded and with its bytes already in the content store: what the
 * applier consumes and what the layer cache stores. `name` is the tar name exactly as written
 * (after pax/GNU long names); the applier cleans and resolves it, and reads whiteout names
 * (`.wh.NAME`, `.wh..wh..opq`) from it, so a cached layer replays exactly like a fresh one.
 */
export type LayerEntry =
  | { kind: "file"; name: string; meta: NodeMeta; content: FileContent }
  | { kind: "dir"; name: string; meta: NodeMeta }
  | { kind: "symlink"; name: string; meta: NodeMeta; target: string }
  /** A hardlink: `target` is the tar link name. It has no metadata of its own (it shares the inode). */
  | { kind: "hardlink"; name: string; target: string }
  | { kind: "fifo" | "char" | "block"; name: string; meta: NodeMeta; devMajor: number; devMinor: number }
  /** An entry whose name is a whiteout (`.wh.NAME`, `.wh..wh..opq`), whatever its tar type: no bytes kept. */
  | { kind: "whiteout"; name: string };

/** Entry kinds, in a stable order (used by the cache format). */
export const LAYER_ENTRY_KINDS = ["file", "dir", "symlink", "hardlink", "fifo", "char", "block", "whiteout"] as const;
