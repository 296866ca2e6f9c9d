import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MediaTypes } from "../../src/registry/image.js";
import { blobExists, deleteManifest, pushImage, pushIndex, retag } from "./image-builder.js";
import { buildLayer } from "./layer-builder.js";
import { startRegistry, type TestRegistry } from "./registry.js";

/** skopeo, an independent client, reads what the builder pushed. */
async function skopeo(...args: string[]): Promise<unknown> {
  const { stdout } = await execa("skopeo", [...args.slice(0, 1), "--tls-verify=false", ...args.slice(1)]);
  return JSON.parse(stdout);
}

describe("image builder (checked with skopeo)", () => {
  let registry: TestRegistry;
  beforeAll(async () => {
    registry = await startRegistry("anonymous");
  });
  afterAll(async () => {
    await registry.stop();
  });

  it.each(["oci", "docker"] as const)("pushes a %s image whose manifest and config skopeo reads back", async (format) => {
    const layer = await buildLayer([{ type: "file", path: "hello", content: "hi" }]);
    const pushed = await pushImage(registry, `sb/${format}:1`, {
      layers: [layer],
      format,
      upload: "chunked",
      chunkSize: 64,
      platform: { os: "linux", architecture: "arm64", variant: "v8" },
      config: { Env: ["X=1"], Cmd: ["/hello"], Labels: { a: "b" } },
    });
    const raw = (await skopeo("inspect", "--raw", `docker://${pushed.reference}`)) as { mediaType: string };
    expect(raw.mediaType).toBe(format === "oci" ? MediaTypes.ociManifest : MediaTypes.dockerManifest);
    const config = (await skopeo("inspect", "--config", `docker://${pushed.reference}`)) as {
      architecture: string; variant: string; config: { Env: string[]; Cmd: string[]; Labels: Record<string, string> }; rootfs: { diff_ids: string[] };
    };
    expect(config).toMatchObject({ architecture: "arm64", variant: "v8", config: { Env: ["X=1"], Cmd: ["/hello"], Labels: { a: "b" } }, rootfs: { diff_ids: [layer.diffId] } });
    const inspect = (await skopeo("inspect", `docker://${pushed.reference}`)) as { Digest: string; Layers: string[] };
    expect(inspect.Digest).toBe(pushed.manifestDigest);
    expect(inspect.Layers).toEqual([layer.digest]);
  });

  it("pushes an index that skopeo resolves per platform; retags and deletes", async () => {
    const images = [];
    for (const architecture of ["amd64", "arm64", "s390x"]) {
      const layer = await buildLayer([{ type: "file", path: "arch", content: architecture }]);
      images.push(await pushImage(registry, `sb/multi:${architecture}`, { layers: [layer], platform: { os: "linux", architecture } }));
    }
    const index = await pushIndex(registry, "sb/multi:all", { manifests: images });
    const arm = (await skopeo("inspect", "--override-arch", "arm64", `docker://${index.reference}`)) as { Digest: string; Layers: string[] };
    expect(arm.Layers).toEqual(images[1]!.layers.map((l) => l.digest));
    await retag(registry, "sb/multi:all", "again");
    const again = (await skopeo("inspect", "--raw", `docker://${registry.host}/sb/multi:again`)) as { manifests: unknown[] };
    expect(again.manifests).toHaveLength(3);
    await deleteManifest(registry, `sb/multi@${index.digest}`);
    await expect(skopeo("inspect", "--raw", `docker://${registry.host}/sb/multi:again`)).rejects.toThrow(/manifest unknown/i);
    expect(await blobExists(registry, "sb/multi", images[0]!.configDigest)).toBe(true);
  });
});
