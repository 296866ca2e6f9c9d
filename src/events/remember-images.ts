import type { Image, Platform } from "../registry/image.js";
import type { RegistryClient } from "../registry/registry-client.js";
import { formatImageReference, parseImageReference, type ImageReference } from "../wishlist/reference.js";

/**
 * `client`, with `image()` of a digest-pinned reference fetched once per platform: a run for an
 * event fetches a moved tag's manifest and config while planning (to find the image among those
 * already published), and its conversion then asks for the same image again. A digest names
 * immutable bytes, so the second answer is the first; references by tag are never remembered,
 * and a failed fetch is not either. Layers stay lazy: each read opens its blob anew.
 */
export function rememberImages(client: RegistryClient): RegistryClient {
  const images = new Map<string, Promise<Image>>();
  return {
    resolve: (ref, options) => client.resolve(ref, options),
    listTags: (ref, options) => client.listTags(ref, options),
    manifest: (ref, options) => client.manifest(ref, options),
    blob: (ref, descriptor, options) => client.blob(ref, descriptor, options),
    close: () => client.close(),
    image(input, platform, options) {
      const ref: ImageReference = typeof input === "string" ? parseImageReference(input) : input;
      if (ref.digest === undefined) return client.image(ref, platform, options);
      const key = `${formatImageReference(ref)} ${typeof platform === "string" ? platform : JSON.stringify(platform satisfies Platform | undefined)}`;
      let image = images.get(key);
      if (!image) {
        image = client.image(ref, platform, options);
        images.set(key, image);
        image.catch(() => images.delete(key));
      }
      return image;
    },
  };
}
