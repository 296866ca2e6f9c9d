import { join, resolve } from "node:path";
import type { ContentStore } from "../../content/content-store.js";
import { info, warn } from "../../logger.js";
import { createRegistryClient, type RegistryClient } from "../../registry/registry-client.js";
import { convertImage } from "../../sandbox/convert-image.js";
import { materialiseTree } from "../../sandbox/materialise.js";
import { PlainContentStore } from "../../sandbox/materialise-plain-store.js";
import { checkSandboxTarget, clearSandboxWorkArea, placeSandbox, sandboxWorkArea } from "../../sandbox/sandbox-place.js";
import { sidecarPath } from "../../sandbox/sidecar.js";
import { StagingContentStore } from "../../sandbox/staging-store.js";
import { formatImageReference, parseImageReference } from "../../wishlist/reference.js";
import type { CommandInput } from "../context.js";
import { formatBytes, formatDuration, shortDigest } from "../../human-format.js";
import { formatTable } from "../table.js";

/**
 * `convert IMAGE --sandbox DIR`: pull one image and write it as an Apptainer sandbox, as an
 * ordinary user. The sandbox is built beside DIR and renamed to DIR when complete (see
 * sandbox-place.ts): a failed or interrupted convert leaves DIR as it was. By default each file's
 * bytes are written once, into a staging directory, and moved into the sandbox when the tree is
 * complete; nothing stays behind. `--layer-cache` keeps the layers' files (uncompressed) in the
 * cache directory instead, so a later convert of an image sharing base layers skips them, at the
 * cost of that disk space and one more copy.
 */
export async function run({ args, options, settings, logger, ctx }: CommandInput): Promise<number> {
  const started = Date.now();
  const ref = parseImageReference(args[0] ?? "");
  const name = formatImageReference(ref);
  const sandbox = resolve(String(options["sandbox"]));
  const useLayerCache = options["layerCache"] === true;
  // Before any download: a sandbox that cannot be written is a mistake to report now.
  await checkSandboxTarget(sandbox);
  const area = sandboxWorkArea(sandbox);
  let registry: RegistryClient | undefined;
  try {
    registry = createRegistryClient({
      insecureRegistries: settings.insecureRegistries,
      ...(settings.registryAuth ? { authFile: settings.registryAuth } : {}),
      logger,
    });
    info(logger, "image.resolve", `resolving ${name} for ${settings.platform.os}/${settings.platform.architecture}`, { image: name });
    const image = await registry.image(ref, settings.platform, { signal: ctx.signal });
    info(logger, "image.layers", `${name}: ${image.layers.length} layers, manifest ${image.manifestDigest}`, {
      image: name,
      layers: image.layers.length,
      manifestDigest: image.manifestDigest,
    });
    // The layer cache of `--layer-cache` is its own: its results name plain objects, not CVMFS ones.
    const cacheDir = join(settings.cacheDir, "sandbox");
    const store: ContentStore = useLayerCache ? await PlainContentStore.create(join(cacheDir, "objects")) : await StagingContentStore.create(area.staging);
    const { tree, stats } = await convertImage(image, {
      store,
      cacheDir: useLayerCache ? cacheDir : false,
      concurrency: Math.max(2, Math.min(settings.concurrency, 8)),
      logger,
      signal: ctx.signal,
    });
    info(logger, "image.materialise", `writing sandbox ${sandbox}`, { image: name, sandbox });
    await materialiseTree(tree, area.partial, { store, logger, signal: ctx.signal, image: name });
    await placeSandbox(area.partial, sandbox, logger);
    const sidecar = sidecarPath(sandbox);
    const seconds = (Date.now() - started) / 1000;
    info(logger, "image.done", `${name} → ${sandbox}`, { image: name, ...stats, sidecar, seconds });
    ctx.stdout.write(
      `${formatTable(
        [
          { header: "image", value: () => name },
          { header: "manifest", value: () => shortDigest(image.manifestDigest) },
          { header: "layers", value: () => `${stats.layers} (${stats.layersFromCache} cached)`, align: "right" },
          { header: "files", value: () => String(stats.files), align: "right" },
          { header: "bytes", value: () => formatBytes(stats.bytes), align: "right" },
          { header: "time", value: () => formatDuration(seconds * 1000), align: "right" },
          { header: "sandbox", value: () => sandbox },
        ],
        [null],
      )}\nmetadata the runner could not keep on disk (owners, modes, devices, xattrs): ${sidecar}\n`,
    );
    return 0;
  } finally {
    // Whatever happened, the work area goes; a cleanup failure must not hide the command's own error.
    await clearSandboxWorkArea(area).catch((err: unknown) => warn(logger, "sandbox.cleanup", `could not remove the work area beside ${sandbox}: ${String(err)}`, { sandbox }));
    await registry?.close().catch(() => undefined);
  }
}
