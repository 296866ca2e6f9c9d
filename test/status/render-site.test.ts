/**
 * The site's markup, pure: untrusted text never becomes markup, the Content-Security-Policy
 * allows exactly the page's own style and script, every link lands on a page of the site, and
 * 2,000 images / 5,000 names stay under 1.5 MB of index.html.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { assembleSite, detailPageNames } from "../../src/status/assemble-site.js";
import { assembleStatus } from "../../src/status/assemble-status.js";
import { shellWord } from "../../src/status/html.js";
import { PAGE_ASSETS } from "../../src/status/page-assets.js";
import { StatusJson } from "../../src/status/status-json.js";
import { createLayout } from "../../src/published/layout.js";
import { emptyPublishedState } from "../../src/published/published-state.js";
import { digest, hexOf, metadata } from "../sync/_fixtures.js";
import { runReport, syntheticState } from "./synthetic.js";

const layout = createLayout({ kind: "osg" });
const EVIL = `"><script>alert(1)</script><img src=x onerror=alert(2)>`;

function hostileSite() {
  const state = emptyPublishedState();
  const dir = layout.imageDir(digest("evil"));
  const config = { config: { Env: [`X=${EVIL}`], Cmd: [EVIL], Entrypoint: "not a list", Labels: { [EVIL]: EVIL, number: 3 } } };
  state.images.set(hexOf("evil"), { hex: hexOf("evil"), dir, metadata: metadata("evil", "m-evil", [], { config }) });
  state.tags.set("/ns/evil:1", dir);
  state.owners.set("/ns/evil:1", [EVIL]);
  const status = assembleStatus({
    repository: "images.test.org",
    layout,
    state,
    revision: 1,
    reports: [
      runReport({
        result: "error",
        error: { code: "E_CONFLICT", message: `conflict ${EVIL}` },
        summary: { names: 1, ok: 1, failed: 1, skipped: 0, failedImages: 1 },
        rows: [
          { image: "ns/evil:1", publicPath: "/ns/evil:1", action: "keep", result: "ok", origin: { file: "images.txt", line: 1, text: `ns/evil:1 ${EVIL}` } },
          { image: `x/${EVIL}`, action: "resolve", result: "failed", error: { code: "E_REFERENCE", message: `bad \x1b[31m ${EVIL}` }, origin: { file: `${EVIL}.txt`, line: 2, text: EVIL } },
        ],
      }),
    ],
    now: new Date("2026-11-02T00:00:00Z"),
  });
  return { status, site: assembleSite(status, PAGE_ASSETS) };
}

const scriptOf = (html: string): string => /<script>([\s\S]*)<\/script>/.exec(html)?.[1] ?? "";
const styleOf = (html: string): string => /<style>([\s\S]*)<\/style>/.exec(html)?.[1] ?? "";
const sha = (s: string): string => createHash("sha256").update(s).digest("base64");

describe("the status site's markup", () => {
  it("shows untrusted text as text: one script element per page, no injected element or attribute", () => {
    const { site } = hostileSite();
    expect([...site.keys()].sort()).toEqual([`i/${hexOf("evil").slice(0, 12)}.html`, "index.html", "status.json"]);
    for (const [path, html] of site) {
      if (!path.endsWith(".html")) continue;
      expect(html.match(/<script/g), path).toHaveLength(1);
      expect(html).not.toContain("<img");
      expect(html).not.toMatch(/<[^>]*\sonerror=/i);
      expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;");
    }
    const detail = site.get(`i/${hexOf("evil").slice(0, 12)}.html`) ?? "";
    expect(detail).toContain(`<dt>Entrypoint</dt><dd><span class="mute">not set</span></dd>`);
    // A label whose value is not a string is left out; the control byte shows as \x1b.
    expect(detail).not.toContain("<code>number</code>");
    expect(site.get("index.html")).toContain("bad \\x1b[31m &quot;&gt;&lt;script&gt;");
  });

  it("allows exactly its own style and script, no other source, no icon request", () => {
    const { site } = hostileSite();
    for (const [path, html] of site) {
      if (!path.endsWith(".html")) continue;
      const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1];
      expect(csp, path).toBe(
        `default-src 'none'; style-src 'sha256-${sha(styleOf(html))}'; script-src 'sha256-${sha(scriptOf(html))}'; img-src data:; base-uri 'none'; form-action 'none'`,
      );
      expect(html).toContain(`<link rel="icon" href="data:,">`);
      expect(html).not.toMatch(/\b(?:src|href)="?(?:https?:)?\/\//);
    }
  });

  it("2,000 images and 5,000 names: index.html under 1.5 MB, a row per name, every link on a page of the site", () => {
    const { state, report } = syntheticState(2000, 5000);
    const status = StatusJson.parse(assembleStatus({ repository: "images.example.org", layout, state, revision: 9, reports: [report], now: new Date("2026-11-20T09:00:00Z") }));
    const site = assembleSite(status, PAGE_ASSETS);
    const index = site.get("index.html") ?? "";
    expect(Buffer.byteLength(index)).toBeLessThan(1_500_000);
    const links = [...index.matchAll(/<tr><td><a href=([^ >]+)>/g)].map((m) => m[1] ?? "");
    expect(links).toHaveLength(5000);
    expect(links.every((l) => site.has(l.replace(/#n-\d+$/, "")))).toBe(true);
    expect(site.size).toBe(2002);
    expect(status.failures).toHaveLength(5);
  });

  it("names detail pages by 12 hex digits, more when two images share them", () => {
    const a = `abcdef012345${"0".repeat(52)}`;
    const b = `abcdef0123456${"1".repeat(51)}`; // differs from a at the 13th digit
    const c = `ffffff000000${"2".repeat(52)}`;
    expect(detailPageNames([a, b, c])).toEqual(new Map([[a, a.slice(0, 13)], [b, b.slice(0, 13)], [c, c.slice(0, 12)]]));
  });

  it.each([
    ["/cvmfs/r/ns/app:1", "/cvmfs/r/ns/app:1"],
    ["port 8080", "'port 8080'"],
    ["it's", `'it'"'"'s'`],
    ["$(reboot)", "'$(reboot)'"],
  ])("quotes %j for a shell as %s", (word, quoted) => {
    expect(shellWord(word)).toBe(quoted);
  });
});
