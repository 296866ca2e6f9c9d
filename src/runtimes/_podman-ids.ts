/**
 * The names containers/storage gives the parts of an image store, derived here from the image ID
 * alone so that the same image always gets the same bytes: a published store is rewritten by
 * every sync, and a name that moved between runs would churn the repository and break running
 * containers whose `lower` file names it.
 */
import { createHash } from "node:crypto";

/** What goes into the hashes below, so our layer IDs can never equal a layer digest or chain ID. */
const LAYER_DOMAIN = "cvmfs-image-sync podman-store flattened layer\n";

const sha256Hex = (data: string): string => createHash("sha256").update(data).digest("hex");

/**
 * The ID of the one layer an image has in the store (64 hex, the shape c/storage gives layers).
 * It is not the image ID itself, so `podman` never resolves a layer and an image to each other
 * through its truncated-ID index, and not a digest any registry serves.
 */
export function podmanLayerId(imageId: string): string {
  return sha256Hex(LAYER_DOMAIN + imageId);
}

/**
 * The layer's `diff-digest`. c/storage only believes `diff-size` when a digest is there; without
 * it, `podman images` walks the whole tree to size it, which on /cvmfs downloads every catalog.
 * The digest is made up on purpose: it must never equal a real layer's diff ID, or c/image would
 * reuse our flattened tree as that layer when the user pulls another image (and it must not equal
 * the config digest, which c/image looks up among layers before it reads the config).
 */
export function podmanDiffDigest(imageId: string): string {
  return `sha256:${sha256Hex(`${LAYER_DOMAIN}diff\n${imageId}`)}`;
}

/** RFC 4648 base32 alphabet: what Go's base32.StdEncoding writes, as c/storage's link names use. */
const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/**
 * The layer's short link ID: the name of `overlay/l/<id>` and the content of `overlay/<layer>/link`.
 * c/storage makes it 26 base32 characters of random bytes so that a `lowerdir` list of many layers
 * fits in one page of mount options; ours are the same length, from the layer ID.
 */
export function podmanLinkId(layerId: string): string {
  const bytes = createHash("sha256").update(`${LAYER_DOMAIN}link\n${layerId}`).digest();
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < 26) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return out;
}

/**
 * The file name c/storage stores an image's big-data item under (store.go makeBigDataBaseName):
 * the key itself when it is only `[0-9a-z.]`, else `=` and the key in standard base64, so that
 * `sha256:<hex>` (a config) becomes `=c2hhMjU2Oi…`. Go's loop consumes the first other character
 * before it stops and encodes only when something is left after it, so a key whose one other
 * character is its last stays plain: kept here too, since the reader must find the same name.
 */
export function bigDataFileName(key: string): string {
  const first = key.search(/[^0-9a-z.]/);
  if (first === -1) return key;
  const rune = String.fromCodePoint(key.codePointAt(first) ?? 0);
  if (key.length === first + rune.length) return key;
  return `=${Buffer.from(key, "utf8").toString("base64")}`;
}
