import type { LocalContentStore } from "../cvmfs/objects/local-content-store.js";
import type { ExtraFormat } from "../runtimes/formats.js";
import { gatewayObstacle, mountLayer, prepareLayer } from "../runtimes/layer-directories.js";
import type { PodmanStoreImage } from "../runtimes/podman-store.js";
import { info, warn, type Logger } from "../logger.js";
import { errorCode, InternalError } from "../errors.js";
import type { Image, Layer, Platform } from "../registry/image.js";
import { parsePlatform } from "../registry/platform.js";
import type { RegistryClient } from "../registry/registry-client.js";
import { parseImageReference, withDigest } from "../wishlist/reference.js";
import type { PlannedTag } from "./plan.js";
import type { LayerResult } from "../layers/process-layer.js";
import { readLayerEntries } from "../layers/read-layer-entries.js";
import type { RepositoryLayout } from "../published/layout.js";
import type { PublishTarget } from "./publish-target.js";
import type { PublishedState } from "../published/published-state.js";

/**
 * What the Podman store needs of an image, gathered when this run had the image in hand (its
 * names come with the run's final commit).
 */
export type PodmanSource = Omit<PodmanStoreImage, "names">;

/**
 * Publishes the formats beyond the sandbox (`--formats`) for the images of one run:
 * - `layers`: each layer once per digest, however many images share it, in a commit of its own
 *   (through a gateway, under a lease on its own directory, so runners publish in parallel);
 *   a layer already in the repository costs nothing; one a gateway cannot carry exactly is
 *   skipped with a warning that says why.
 * - `podman`: gathers the manifest and config bytes of each image; the store itself changes
 *   with the names, in the run's final commit (see podman-names.ts).
 * What an image got is remembered for the published-state index.
 */
export class FormatPublisher {
  /** Layer digest → its publication in this run (or nothing to do: already there). */
  private readonly layers = new Map<string, Promise<void>>();
  /** Image directory → what the Podman store needs of it. */
  readonly podman = new Map<string, PodmanSource>();
  /** Config hex → the formats it has after this run (for the index). */
  readonly done = new Map<string, Set<ExtraFormat>>();
  /** Layer directories this run published. */
  readonly publishedLayers: string[] = [];
  /** Image directory → the formats it did not get and why (its sandbox and names are published anyway). */
  readonly failed = new Map<string, string>();

  constructor(
    private readonly ctx: {
      formats: readonly ExtraFormat[];
      layout: RepositoryLayout;
      target: PublishTarget;
      state: PublishedState;
      cacheDir: string;
      logger: Logger;
      signal?: AbortSignal;
      now: Date;
    },
  ) {}

  get wantsLayers(): boolean {
    return this.ctx.formats.includes("layers");
  }

  /**
   * The formats in `need` for one image: after its own commit, with the conversion's layer
   * results (nothing is read again), or for a published image, whose Image `image` fetches. A
   * failure is the image's (in `failed`, logged), not the run's: its sandbox and names stand.
   */
  async publish(
    image: Image | (() => Promise<Image>),
    at: { imageDir: string; hex: string; bytes: number },
    need: readonly ExtraFormat[],
    results?: ReadonlyMap<string, LayerResult>,
  ): Promise<void> {
    const { imageDir, hex } = at;
    if (need.length === 0) return;
    try {
      const resolved = typeof image === "function" ? await image() : image;
      if (need.includes("podman")) this.rememberPodman(resolved, imageDir, hex, at.bytes);
      if (need.includes("layers")) {
        await Promise.all(resolved.layers.map((layer) => this.layerOnce(layer, resolved, results?.get(layer.descriptor.digest))));
        this.mark(hex, "layers");
      }
    } catch (err) {
      if (this.ctx.signal?.aborted) throw err;
      const message = `${need.join(", ")}: [${errorCode(err)}] ${err instanceof Error ? err.message : String(err)}`;
      this.failed.set(imageDir, message);
      this.ctx.logger.log({ level: "error", event: "format.failed", message: `${imageDir}: not published as ${message}`, fields: { imageDir, code: errorCode(err) } });
    }
  }

  private rememberPodman(image: Image, imageDir: string, hex: string, size: number): void {
    if (!image.manifestBytes || !image.configBytes) {
      warn(this.ctx.logger, "podman.skipped", `${imageDir}: its manifest and config bytes are not at hand; not added to the Podman store`, { imageDir });
      return;
    }
    this.podman.set(imageDir, {
      id: hex,
      imageDir,
      manifestDigest: image.manifestDigest,
      manifest: image.manifestBytes,
      configDigest: image.configDigest,
      config: image.configBytes,
      created: rfc3339(image.config.created) ?? this.ctx.now.toISOString(),
      size,
    });
    this.mark(hex, "podman");
  }

  private mark(hex: string, format: ExtraFormat): void {
    const set = this.done.get(hex) ?? new Set();
    set.add(format);
    this.done.set(hex, set);
  }

  private layerOnce(layer: Layer, image: Image, result: LayerResult | undefined): Promise<void> {
    const digest = layer.descriptor.digest;
    const existing = this.layers.get(digest);
    if (existing) return existing;
    const work = this.ctx.state.layers.has(digest) ? Promise.resolve() : this.publishLayer(layer, image, result);
    this.layers.set(digest, work);
    return work;
  }

  private async publishLayer(layer: Layer, image: Image, result: LayerResult | undefined): Promise<void> {
    const { layout, target, logger } = this.ctx;
    const digest = layer.descriptor.digest;
    const dir = layout.layerDir(digest);
    const short = `layer-${digest.slice(digest.indexOf(":") + 1, digest.indexOf(":") + 13)}`;
    const store: LocalContentStore = await target.imageStore(short);
    const entries =
      result?.entries ??
      (
        await readLayerEntries(layer, {
          store,
          cacheDir: this.ctx.cacheDir,
          logger,
          image: `${image.reference.registry}/${image.reference.repository}`,
          ...(this.ctx.signal ? { signal: this.ctx.signal } : {}),
        })
      ).entries;
    const prepared = await prepareLayer({ digest, dir, entries }, store, {
      mtime: Math.floor(this.ctx.now.getTime() / 1000),
      logger,
      hardlinkGroups: target.kind === "local",
    });
    const obstacle = target.kind === "gateway" ? gatewayObstacle(prepared) : undefined;
    if (obstacle !== undefined) {
      warn(logger, "layer.skipped", `layer ${digest} not published as a layer directory: ${obstacle}`, { layer: digest, whiteouts: prepared.whiteouts, opaqueDirs: prepared.opaqueDirs });
      return;
    }
    await target.publishImage(
      {
        leasePath: dir,
        edit: async (editor) => {
          await mountLayer(editor, layout.layersRoot, prepared);
          return true;
        },
        tagName: short,
        tagDescription: `add layer ${digest}`,
      },
      store,
    );
    this.publishedLayers.push(dir);
    info(logger, "layer.published", `layer ${digest} → ${dir}`, { layer: digest, dir, files: prepared.files, bytes: prepared.bytes });
  }
}

/** The image a published name stands for, fetched again (manifest and config only) to add formats. */
export async function fetchPublished(
  opts: { registry: RegistryClient; platform: Platform; signal?: AbortSignal },
  tag: PlannedTag,
): Promise<Image> {
  if (tag.reference === undefined || tag.manifestDigest === undefined) throw new InternalError(`${tag.publicPath}: no reference to fetch its image by`);
  const ref = withDigest(parseImageReference(tag.reference), tag.manifestDigest);
  return opts.registry.image(ref, tag.platform ? parsePlatform(tag.platform) : opts.platform, { ...(opts.signal ? { signal: opts.signal } : {}) });
}

/**
 * The config's creation time as Go's time parser reads it (RFC 3339), else undefined: Podman
 * reads every record of images.json with it, so one odd value would break the whole store.
 */
function rfc3339(created: string | undefined): string | undefined {
  return created !== undefined && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/.test(created) ? created : undefined;
}
