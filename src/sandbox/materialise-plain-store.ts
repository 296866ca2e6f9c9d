import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { access, mkdir, open, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { RepositoryError } from "../errors.js";
import type { ContentStore, FileContent, HashAlgorithm, ObjectSuffix } from "../content/content-store.js";
import { spoolBody } from "./spool-body.js";

/**
 * The content store of `convert --sandbox --layer-cache` (a sandbox, no publishing): objects are the
 * files' plain bytes, named by their SHA-1 like CVMFS whole-file objects but not compressed,
 * under `dir/xx/…`. CVMFS needs zlib-compressed objects; a sandbox does not, and compressing
 * every byte only to inflate it again on the way to disk is most of the work of a convert. The
 * materialiser copies these objects with copy_file_range (`copyFile`) instead of streaming them.
 * Never hand it to the catalog writer or a publisher: the objects are not CVMFS objects.
 * Keep it apart from a CVMFS store's layer cache entries by giving the convert its own cacheDir.
 */
export class PlainContentStore implements ContentStore {
  readonly hashAlgorithm: HashAlgorithm = "sha1";
  /** Marks a store whose `objectPath(hash, "")` holds a file's bytes as they are. */
  readonly plainObjects = true;
  private seq = 0;
  /** Objects known to be in place (put or found by this process): no syscall to ask again. */
  private readonly present = new Set<string>();
  private readonly dirs = new Set<string>();

  private constructor(readonly dir: string) {}

  static async create(dir: string): Promise<PlainContentStore> {
    await mkdir(join(dir, "txn"), { recursive: true });
    return new PlainContentStore(dir);
  }

  objectPath(hash: string, suffix: ObjectSuffix): string {
    return join(this.dir, hash.slice(0, 2), hash.slice(2) + suffix);
  }

  async putFile(body: Readable | AsyncIterable<Uint8Array>): Promise<FileContent> {
    const hash = createHash("sha1");
    // A small body is written with one call once its name is known, and not at all when the
    // object is already there; a large one is spooled to a temp file and renamed.
    const spooled = await spoolBody(body as AsyncIterable<Uint8Array>, () => this.tempName(), (chunk) => hash.update(chunk));
    const hex = hash.digest("hex");
    if (spooled.path !== undefined) {
      await this.place(spooled.path, hex, "");
    } else if (!(await this.has(hex, ""))) {
      const small = this.tempName();
      await writeFile(small, spooled.bytes, { mode: 0o600, flag: "wx" });
      await this.place(small, hex, "");
    }
    return { size: spooled.size, hash: hex };
  }

  private tempName(): string {
    return join(this.dir, "txn", `${process.pid}-${this.seq++}-${randomBytes(4).toString("hex")}`);
  }

  async putBuffer(bytes: Uint8Array, suffix: ObjectSuffix): Promise<string> {
    const hex = createHash("sha1").update(bytes).digest("hex");
    const tmp = join(this.dir, "txn", `${process.pid}-${this.seq++}-${randomBytes(4).toString("hex")}`);
    const fh = await open(tmp, "wx", 0o600);
    try {
      await fh.writeFile(bytes);
    } finally {
      await fh.close();
    }
    await this.place(tmp, hex, suffix);
    return hex;
  }

  private async place(tmp: string, hex: string, suffix: ObjectSuffix): Promise<void> {
    const key = hex + suffix;
    if (this.present.has(key)) {
      await rm(tmp, { force: true });
      return;
    }
    const dir = join(this.dir, hex.slice(0, 2));
    if (!this.dirs.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.dirs.add(dir);
    }
    // Content-addressed: replacing an existing object with the same bytes is harmless, and one
    // rename is cheaper than asking first.
    await rename(tmp, this.objectPath(hex, suffix));
    this.present.add(key);
  }

  async has(hash: string, suffix: ObjectSuffix): Promise<boolean> {
    if (this.present.has(hash + suffix)) return true;
    try {
      await access(this.objectPath(hash, suffix));
      this.present.add(hash + suffix);
      return true;
    } catch {
      return false;
    }
  }

  readFile(content: FileContent): Readable {
    if (content.hash === null || content.chunks?.length) {
      throw new RepositoryError("plain content store: chunked content is not from this store");
    }
    return createReadStream(this.objectPath(content.hash, ""), { highWaterMark: 1 << 20 });
  }
}

/** Whether `store` keeps plain bytes at `objectPath(hash, "")` (so a file can be copied, not inflated). */
export function hasPlainObjects(store: ContentStore): store is ContentStore & { plainObjects: true } {
  return (store as { plainObjects?: unknown }).plainObjects === true;
}
