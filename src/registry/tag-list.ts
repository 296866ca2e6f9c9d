/**
 * Lists a repository's tags (distribution-spec "Listing Tags"), following `Link: <…>; rel="next"`
 * pages until there are none, asking `n` tags per page. Order is the registry's.
 */
import { RegistryError } from "../errors.js";
import { pullScope } from "./registry-auth.js";
import type { RegistryTransport } from "./registry-transport.js";
import { TagList } from "./schema.js";

const MAX_PAGES = 10_000;

/** The `rel="next"` target of a Link header, resolved against `base`. */
export function nextLink(link: string | string[] | undefined, base: string): string | undefined {
  const values = Array.isArray(link) ? link : link ? [link] : [];
  for (const value of values) {
    for (const part of value.split(/,(?=\s*<)/)) {
      const m = /^\s*<([^>]*)>(.*)$/.exec(part);
      if (m && /;\s*rel="?next"?/i.test(m[2]!)) return new URL(m[1]!, base).toString();
    }
  }
  return undefined;
}

/** Every tag of `repository`, across pages. */
export async function listTags(transport: RegistryTransport, repository: string, pageSize: number, signal?: AbortSignal): Promise<string[]> {
  const tags: string[] = [];
  const seen = new Set<string>();
  let url: string | undefined = `/v2/${repository}/tags/list?n=${pageSize}`;
  for (let page = 0; url !== undefined; page++) {
    if (page >= MAX_PAGES || seen.has(url)) throw new RegistryError(`list tags of ${repository}: pagination does not end`);
    seen.add(url);
    const res = await transport.send({ method: "GET", url, scope: pullScope(repository), what: `list tags of ${repository}`, ...(signal ? { signal } : {}) });
    const text = await res.body.text();
    let body;
    try {
      body = TagList.parse(JSON.parse(text));
    } catch {
      throw new RegistryError(`list tags of ${repository}: malformed tag list`, { method: "GET", status: res.status });
    }
    tags.push(...(body.tags ?? []));
    url = nextLink(res.headers["link"], res.url);
  }
  return [...new Set(tags)];
}
