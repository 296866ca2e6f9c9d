import { createRequire } from "node:module";
import { deflateSync } from "node:zlib";
import { ConfigError, describeError } from "../../errors.js";

/**
 * The deflate implementation the compress workers use. Both write zlib streams with their
 * RFC 1950 header, which is all a CVMFS client needs (it inflates any valid stream; only
 * byte-identical dedup with `cvmfs_server` would need zlib's own output, cvmfs-formats.md §0):
 * - `libdeflate`: the system libdeflate (Debian `libdeflate-dev`) through the small addon in
 *   `native/libdeflate`, built by `npm ci` as an optional dependency. It compresses whole buffers
 *   several times faster than zlib; at level {@link LIBDEFLATE_LEVEL} it stores about what zlib
 *   stores at level 6 (see the README's bench figures).
 * - `zlib`: node:zlib at `Z_DEFAULT_COMPRESSION`, the level `cvmfs_server` uses; always there.
 * Chosen once per pool, from the option or `CVMFS_IMAGE_SYNC_COMPRESSOR` (`auto` | `libdeflate` |
 * `zlib`, default `auto`: libdeflate when its addon loads, else zlib).
 */

export type CompressorName = "libdeflate" | "zlib";

/** What a pool tells its workers. */
export interface Compressor {
  name: CompressorName;
  /** Absolute path of the addon's entry file (workers load it themselves), null for zlib. */
  addon: string | null;
  /** Deflate level the workers use. */
  level: number;
  /** Library version, for logs and the bench. */
  version: string;
  /** Why `auto` fell back to zlib (the addon's load error), for a log line; absent otherwise. */
  fallback?: string;
}

/** The environment variable that picks the compressor. */
export const COMPRESSOR_ENV = "CVMFS_IMAGE_SYNC_COMPRESSOR";

/** libdeflate's level: the bench's choice of speed at stored bytes within 1 % of zlib level 6. */
export const LIBDEFLATE_LEVEL = 2;

const ADDON = "cvmfs-image-sync-libdeflate";

interface Addon {
  version: string;
  zlibCompress(input: Uint8Array, output: Uint8Array, level: number): number;
  zlibCompressBound(length: number, level: number): number;
}

let probed: { path: string; version: string; addon: Addon } | Error | undefined;

/** Load the addon once in this thread and check it compresses; the error says why not. */
function probeAddon(): { path: string; version: string; addon: Addon } | Error {
  if (probed !== undefined) return probed;
  try {
    const require = createRequire(import.meta.url);
    const path = require.resolve(ADDON);
    const addon = require(path) as Addon;
    const out = new Uint8Array(addon.zlibCompressBound(1, LIBDEFLATE_LEVEL));
    if (addon.zlibCompress(new Uint8Array(1), out, LIBDEFLATE_LEVEL) === 0) throw new Error("the addon compressed nothing");
    probed = { path, version: addon.version, addon };
  } catch (err) {
    probed = new Error(`the libdeflate addon (${ADDON}) is not available: ${describeError(err)}`, { cause: err });
  }
  return probed;
}

/**
 * The compressor for `choice`, by default the environment's. `auto` falls back to zlib when the
 * addon is missing.
 * @throws ConfigError for an unknown name, or for `libdeflate` when its addon does not load.
 */
export function resolveCompressor(choice: string = process.env[COMPRESSOR_ENV] ?? "auto"): Compressor {
  const zlib: Compressor = { name: "zlib", addon: null, level: 6, version: process.versions.zlib ?? "" };
  if (choice === "zlib") return zlib;
  if (choice !== "auto" && choice !== "libdeflate") {
    throw new ConfigError(`${COMPRESSOR_ENV}: unknown compressor "${choice}" (auto, libdeflate or zlib)`);
  }
  const addon = probeAddon();
  if (addon instanceof Error) {
    if (choice === "libdeflate") throw new ConfigError(addon.message, { cause: addon });
    return { ...zlib, fallback: addon.message };
  }
  return { name: "libdeflate", addon: addon.path, level: LIBDEFLATE_LEVEL, version: addon.version };
}

/**
 * Deflate `bytes` in the calling thread with `compressor` at `level` (default: the compressor's
 * own), as a worker would: for benchmarks and tests, never on the publish path.
 */
export function deflateWith(compressor: Compressor, bytes: Uint8Array, level = compressor.level): Buffer {
  if (compressor.name === "zlib") return deflateSync(bytes, { level });
  const probe = probeAddon();
  if (probe instanceof Error) throw new ConfigError(probe.message, { cause: probe });
  const out = Buffer.allocUnsafe(probe.addon.zlibCompressBound(bytes.length, level));
  return out.subarray(0, probe.addon.zlibCompress(bytes, out, level));
}
