import { join, resolve } from "node:path";
import { info } from "../../logger.js";
import { createRegistryClient } from "../../registry/registry-client.js";
import { convertImage } from "../../sandbox/convert-image.js";
import { materialiseTree } from "../../sandbox/materialise.js";
import { PlainContentStore } from "../../sandbox/materialise-plain-store.js";
import { formatImageReference, parseImageReference } from "../../wishlist/reference.js";
import type { CommandInput } from "../run-command.js";
import { formatBytes, formatDuration, formatTable, shortDigest } from "../table.js";

/**
 * `convert IMAGE --sandbox DIR`: pull one image and write it as an Apptainer sandbox, as an
 * ordinary user. File bytes pass through a plain (uncompressed) store in the cache directory:
 * a sandbox needs no CVMFS objects, and a second image sharing base layers reuses their results.
 */
export async function run({ args, options, settings, logger, ctx }: CommandInput): Promise<number> {
  const started = Date.now();
  const ref = parseImageReference(args[0] ?? "");
  const name = formatImageReference(ref);
  const sandbox = resolve(String(options["sandbox"]));
  const registry = createRegistryClient({
    insecureRegistries: settings.insecureRegistries,
    ...(settings.registryAuth ? { authFile: settings.registryAuth } : {}),
    logger,
  });
  try {
    info(logger, "image.resolve", `resolving ${name} for ${settings.platform.os}/${settings.platform.architecture}`, { image: name });
    const image = await registry.image(ref, settings.platform, { signal: ctx.signal });
    info(logger, "image.layers", `${name}: ${image.layers.length} layers, manifest ${image.manifestDigest}`, {
      image: name,
      layers: image.layers.length,
      manifestDigest: image.manifestDigest,
    });
    // Its own cache directory: these layer results name plain objects, not CVMFS ones.
    const cacheDir = join(settings.cacheDir, "sandbox");
    const store = await PlainContentStore.create(join(cacheDir, "objects"));
    const { tree, stats } = await convertImage(image, {
      store,
      cacheDir,
      concurrency: Math.max(2, Math.min(settings.concurrency, 8)),
      logger,
      signal: ctx.signal,
    });
    info(logger, "image.materialise", `writing sandbox ${sandbox}`, { image: name, sandbox });
    const written = await materialiseTree(tree, sandbox, { store, logger, signal: ctx.signal, image: name });
    const seconds = (Date.now() - started) / 1000;
    info(logger, "image.done", `${name} → ${sandbox}`, { image: name, ...stats, sidecar: written.sidecar, seconds });
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
      )}\nmetadata the runner could not keep on disk (owners, modes, devices, xattrs): ${written.sidecar}\n`,
    );
    return 0;
  } finally {
    await registry.close();
  }
}
