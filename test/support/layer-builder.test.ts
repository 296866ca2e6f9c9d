import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { buildLayer } from "./layer-builder.js";

describe("buildLayer", () => {
  it("writes a tar that GNU tar lists as described, with digests that match", async () => {
    const long = `deep/${"x".repeat(120)}/file.txt`;
    const gnu = `gnu/${"y".repeat(150)}`;
    const layer = await buildLayer([
      { type: "dir", path: "etc" },
      { type: "file", path: "etc/passwd", content: "root:x:0:0::/root:/bin/sh\n", mode: 0o4755, uid: 5, gid: 6 },
      { type: "symlink", path: "etc/link", target: "passwd" },
      { type: "hardlink", path: "etc/hard", target: "etc/passwd" },
      { type: "whiteout", path: "etc/gone" },
      { type: "opaque", path: "var" },
      { type: "file", path: long, content: "long" },
      { type: "file", path: gnu, content: "gnu", gnuLongName: true },
      { type: "file", path: "big", content: { size: 3 << 20, seed: 7 } },
      { type: "fifo", path: "fifo" },
    ]);
    expect(layer.digest).toBe(`sha256:${createHash("sha256").update(layer.blob).digest("hex")}`);
    const tarBytes = gunzipSync(layer.blob);
    expect(layer.diffId).toBe(`sha256:${createHash("sha256").update(tarBytes).digest("hex")}`);
    const dir = mkdtempSync(join(tmpdir(), "lb-"));
    try {
      writeFileSync(join(dir, "l.tar"), tarBytes);
      const listing = execFileSync("tar", ["-tvf", join(dir, "l.tar"), "--numeric-owner"], { encoding: "utf8" });
      expect(listing).toContain("-rwsr-xr-x 5/6");
      expect(listing).toContain("etc/link -> passwd");
      expect(listing).toContain("etc/hard link to etc/passwd");
      expect(listing).toContain("etc/.wh.gone");
      expect(listing).toContain("var/.wh..wh..opq");
      expect(listing).toContain(long);
      expect(listing).toContain(gnu);
      expect(listing).toMatch(/3145728 .* big/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("compresses with zstd and none", async () => {
    const z = await buildLayer([{ type: "file", path: "a", content: "a" }], { compression: "zstd" });
    expect(z.blob.subarray(0, 4).toString("hex")).toBe("28b52ffd");
    const n = await buildLayer([{ type: "file", path: "a", content: "a" }], { compression: "none" });
    expect(n.digest).toBe(n.diffId);
  });
});
