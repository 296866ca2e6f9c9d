import { mkdir, readdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import pLimit from "p-limit";
import { asConfigError } from "../errors.js";
import { DETAIL_DIR, type Site } from "./assemble-site.js";

/**
 * Write the site into `dir` (created when missing). Each file is written beside its place and
 * renamed over it, detail pages first and `index.html` last, so a web server reading the folder
 * meanwhile serves whole files whose links work; `index.html` and `status.json` also get a gzip
 * copy (`.gz`) beside them. Detail pages of images that are gone are removed; nothing else in
 * `dir` is touched. Returns the bytes written.
 * Throws ConfigError when `dir` cannot be written.
 */
export async function writeSite(dir: string, site: Site): Promise<number> {
  const partial = (path: string): string => `${path}.${process.pid}.partial`;
  const put = async (rel: string, content: string | Buffer): Promise<number> => {
    const path = join(dir, rel);
    try {
      await writeFile(partial(path), content);
      await rename(partial(path), path);
    } catch (err) {
      await rm(partial(path), { force: true });
      throw err;
    }
    return Buffer.byteLength(content);
  };
  const last = ["status.json", "index.html"];
  try {
    await mkdir(join(dir, DETAIL_DIR), { recursive: true });
    const limit = pLimit(16);
    const sizes = await Promise.all([...site].filter(([rel]) => !last.includes(rel)).map(([rel, content]) => limit(async () => {
      await mkdir(dirname(join(dir, rel)), { recursive: true });
      return put(rel, content);
    })));
    let bytes = sizes.reduce((a, b) => a + b, 0);
    for (const rel of last) {
      const content = site.get(rel);
      if (content === undefined) continue;
      // GitLab Pages serves `<file>.gz` to browsers that accept gzip: the big two shrink ~10×.
      bytes += await put(`${rel}.gz`, gzipSync(content, { level: 9 }));
      bytes += await put(rel, content);
    }
    const stale = (await readdir(join(dir, DETAIL_DIR))).filter((name) => name.endsWith(".html") && !site.has(`${DETAIL_DIR}/${name}`));
    await Promise.all(stale.map((name) => rm(join(dir, DETAIL_DIR, name), { force: true })));
    return bytes;
  } catch (cause) {
    throw asConfigError(`write the status site to ${dir}`, cause);
  }
}
