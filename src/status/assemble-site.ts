import type { PageAssets } from "./html.js";
import { renderImage } from "./render-image.js";
import { renderIndex } from "./render-index.js";
import { formatStatusJson, type StatusJson, type StatusName } from "./status-json.js";

/** The folder of the detail pages, inside the site. */
export const DETAIL_DIR = "i";

/** A static site: relative path → file content. */
export type Site = Map<string, string>;

/**
 * Pure: the whole site for a status model: `index.html`, `status.json`, and one detail page per
 * image named by the start of its config digest hex (12 digits, as `docker images` shows an id;
 * more when two images would share a name), so a link to an image stays valid as long as the
 * image is there.
 */
export function assembleSite(status: StatusJson, assets: PageAssets): Site {
  const pageOf = detailPageNames(status.images.map((i) => i.hex));
  const byImage = new Map<string, StatusName[]>();
  for (const n of status.names) {
    const list = byImage.get(n.image);
    if (list) list.push(n);
    else byImage.set(n.image, [n]);
  }
  const anchor = new Map<StatusName, number>();
  for (const list of byImage.values()) {
    list.forEach((n, k) => {
      anchor.set(n, k);
    });
  }

  const site: Site = new Map();
  site.set(
    "index.html",
    renderIndex(status, assets, (n) => {
      // The first name of an image is at the top of its page: no fragment (5,000 links, 4 bytes each).
      const k = anchor.get(n) ?? 0;
      return pageOf.has(n.image) ? `${DETAIL_DIR}/${pageOf.get(n.image)}.html${k > 0 ? `#n-${k}` : ""}` : "#names";
    }),
  );
  site.set("status.json", formatStatusJson(status));
  for (const image of status.images) {
    site.set(`${DETAIL_DIR}/${pageOf.get(image.hex)}.html`, renderImage(status, image, byImage.get(image.hex) ?? [], assets));
  }
  return site;
}

/** Image hex → page name: the shortest prefix of at least 12 digits no other image shares. */
export function detailPageNames(hexes: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  const sorted = [...new Set(hexes)].sort();
  sorted.forEach((hex, i) => {
    let length = 12;
    for (const other of [sorted[i - 1], sorted[i + 1]]) {
      if (other === undefined) continue;
      let common = 0;
      while (common < hex.length && hex[common] === other[common]) common++;
      length = Math.max(length, common + 1);
    }
    out.set(hex, hex.slice(0, length));
  });
  return out;
}
