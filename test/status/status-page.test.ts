/**
 * The status page in a real browser: Debian's Chromium through puppeteer-core, the site served
 * from 127.0.0.1 as GitLab Pages would serve it, made by `status` from a repository that `sync`
 * published with one failing wishlist line. Screenshots go under the test output directory
 * (printed) for a person to look at.
 */
import { mkdir, stat } from "node:fs/promises";
import type { Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, serveDirectory, testOutputDir, type Chromium, type StaticServer } from "../support/chromium.js";
import { runCli } from "../support/run-cli.js";
import { HOSTILE_LABEL, REPO, makeStatusFixture, type StatusFixture } from "./status-fixture.js";

let fx: StatusFixture;
let server: StaticServer;
let chromium: Chromium;

beforeAll(async () => {
  fx = await makeStatusFixture();
  expect(fx.sync.code, fx.sync.stderr).toBe(1);
  const made = await runCli(["status", "--out", fx.dir.join("public"), "--report", fx.reportFile, ...fx.common]);
  expect(made.code, made.stderr).toBe(0);
  [server, chromium] = await Promise.all([serveDirectory(fx.dir.join("public")), launchChromium()]);
}, 60_000);

afterAll(async () => {
  await chromium?.close();
  await server?.close();
  await fx?.close();
});

interface Opened {
  page: Page;
  /** Console errors and warnings, and uncaught exceptions. */
  problems: string[];
  /** Every URL the page asked for. */
  requested: string[];
}

async function open(path: string, options: { javaScript?: boolean } = {}): Promise<Opened> {
  const page = await chromium.browser.newPage();
  const problems: string[] = [];
  const requested: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warn") problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`pageerror: ${String(e)}`));
  page.on("request", (r) => requested.push(r.url()));
  await page.setJavaScriptEnabled(options.javaScript ?? true);
  await page.setViewport({ width: 1440, height: 900 });
  await page.goto(`${server.url}${path}`, { waitUntil: "load" });
  return { page, problems, requested };
}

async function screenshot(page: Page, name: string): Promise<string> {
  const dir = testOutputDir("status");
  await mkdir(dir, { recursive: true });
  const file = `${dir}/${name}.png`;
  await page.screenshot({ path: file as `${string}.png`, fullPage: true });
  console.log(`status page screenshot: ${file}`);
  expect((await stat(file)).size).toBeGreaterThan(10_000);
  return file;
}

/**
 * The value of a JavaScript expression evaluated in the page. Written as text: the tests are
 * compiled without the DOM's types, which only the page has.
 */
const inPage = <T>(page: Page, expression: string): Promise<T> => page.evaluate(expression) as Promise<T>;

/** The cells' text of the visible rows `selector` finds. */
const cellsOf = (page: Page, selector: string): Promise<string[][]> =>
  inPage(page, `Array.from(document.querySelectorAll(${JSON.stringify(selector)})).filter((r) => !r.hidden).map((r) => Array.from(r.cells, (c) => c.textContent.trim()))`);

describe("the status page in Chromium", { timeout: 30_000 }, () => {
  it("lists every name, the failure first, filters to one as one types, sorts, and asks for nothing but itself", async () => {
    const { page, problems, requested } = await open("/index.html");
    const [app, tool, latest, missing] = fx.lines as [string, string, string, string];
    const appHex = fx.images.app.manifestDigest.slice(7, 19);
    const toolHex = fx.images.tool.manifestDigest.slice(7, 19);
    const rows = await cellsOf(page, "#t tbody tr");
    expect(rows).toHaveLength(3);
    expect(rows.map((r) => [r[0], r[1], r[2], r[3], r[6], r[9]])).toEqual([
      [app, "1", appHex, "linux/amd64", "sandbox", `/cvmfs/${REPO}/sites/app:1`],
      [tool, "1", toolHex, "linux/amd64", "sandbox", `/cvmfs/${REPO}/sites/tool:1`],
      [latest, "latest", toolHex, "linux/amd64", "sandbox", `/cvmfs/${REPO}/sites/tool:latest`],
    ]);
    expect(rows.every((r) => /^\d+\.\d KiB$/.test(r[4] ?? "") && /^\d+$/.test(r[5] ?? "") && /^\d{4}-\d\d-\d\d \d\d:\d\d$/.test(r[8] ?? ""))).toBe(true);

    // The failure comes before the names, with its wishlist line, code and message.
    const failures = await cellsOf(page, "#failures tbody tr");
    expect(failures).toHaveLength(1);
    expect(failures[0]![0]).toBe(missing);
    expect(failures[0]![1]).toBe(`${fx.dir.join("images.txt")}:5`);
    expect(failures[0]![2]).toBe(`E_REGISTRY resolve ${missing}: HTTP 404`);
    expect(await inPage(page, `(document.getElementById("failures").compareDocumentPosition(document.getElementById("names")) & Node.DOCUMENT_POSITION_FOLLOWING) !== 0`)).toBe(true);
    expect(await page.$eval("dl.facts", (d) => d.textContent)).toMatch(/Last run.*failed/);

    await page.type("#q", "app");
    expect(await cellsOf(page, "#t tbody tr")).toEqual([rows[0]]);
    expect(await page.$eval("#count", (c) => c.textContent)).toBe("1 of 3 names");
    expect(await inPage(page, "location.hash")).toBe("#q=app");
    await inPage(page, `{ const q = document.getElementById("q"); q.value = ""; q.dispatchEvent(new Event("input")); }`);
    expect(await cellsOf(page, "#t tbody tr")).toHaveLength(3);

    // Name, twice: descending.
    await page.click("#t thead th:nth-child(1) button");
    await page.click("#t thead th:nth-child(1) button");
    expect((await cellsOf(page, "#t tbody tr")).map((r) => r[0])).toEqual([latest, tool, app]);
    expect(await page.$eval("#t thead th:nth-child(1)", (th) => th.getAttribute("aria-sort"))).toBe("descending");

    await screenshot(page, "index");
    expect(requested).toEqual([`${server.url}/index.html`]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it("the detail view shows the image's config, layers, wishlist origin and commands; labels stay text", async () => {
    const { page, problems, requested } = await open("/index.html");
    const href = await page.$eval("#t tbody tr:first-child a", (a) => a.getAttribute("href"));
    expect(href).toMatch(/^i\/[0-9a-f]{12}\.html$/);
    await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.click("#t tbody tr:first-child a")]);
    const kv = (section: string): Promise<Record<string, string>> =>
      inPage(page, `Object.fromEntries(Array.from(document.querySelectorAll(${JSON.stringify(`${section} dl.kv > dt`)}), (dt) => [dt.textContent, dt.nextElementSibling.textContent.trim()]))`);
    const config = await kv("#config");
    expect(config["Entrypoint"]).toBe("/opt/app/run");
    expect(config["Cmd"]).toBe("--serve 'port 8080'");
    expect(config["Working directory"]).toBe("/opt/app");
    expect(await page.$eval("#config pre", (p) => p.textContent)).toBe("PATH=/usr/bin:/bin\nAPP_HOME=/opt/app");
    const labels = await cellsOf(page, "#config tbody tr");
    expect(labels).toEqual([
      ["org.opencontainers.image.title", "App <b>one</b>"],
      ["site.example/evil", HOSTILE_LABEL],
    ]);
    expect(await page.title()).toBe(`${fx.lines[0]}: ${REPO}`);
    expect(await page.$$("img")).toHaveLength(0);

    const name = await kv("#n-0");
    expect(name["Path"]).toBe(`/cvmfs/${REPO}/sites/app:1`);
    expect(name["Wishlist"]).toBe(`${fx.dir.join("images.txt")}:2 ${fx.lines[0]}`);
    expect(name["Owners"]).toBe("sites/images");
    expect(await page.$$eval("#n-0 .cmd pre", (p) => p.map((e) => e.textContent))).toEqual([
      `apptainer exec /cvmfs/${REPO}/sites/app:1 cat /etc/os-release`,
      `podman run --rm -it --rootfs /cvmfs/${REPO}/sites/app:1:O /bin/sh`,
    ]);
    expect(await page.$$eval("#n-0 .cmd button", (b) => b.map((e) => e.textContent))).toEqual(["Copy", "Copy"]);
    const image = await kv("#image");
    expect(image["Manifest digest"]).toBe(fx.images.app.manifestDigest);
    expect(image["Config digest"]).toBe(fx.images.app.configDigest);
    expect(image["Platform"]).toBe("linux/amd64");
    expect((await cellsOf(page, "#layers tbody tr")).map((r) => r[1])).toEqual(fx.images.app.layers.map((l) => l.digest));

    await screenshot(page, "detail");
    expect(requested).toEqual([`${server.url}/index.html`, `${server.url}/${href}`]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it("is readable with JavaScript off: every row, no filter box, plain headers", async () => {
    const { page, problems } = await open("/index.html", { javaScript: false });
    expect(await cellsOf(page, "#t tbody tr")).toHaveLength(3);
    expect(await inPage(page, `getComputedStyle(document.getElementById("q")).display`)).toBe("none");
    expect(await page.$$("#t thead button")).toHaveLength(0);
    expect(await page.$eval("#t thead tr", (r) => r.textContent)).toBe("NameTagDigestPlatformSizeFilesFormatsPublishedCheckedPath");
    expect(await cellsOf(page, "#failures tbody tr")).toHaveLength(1);
    await screenshot(page, "index-no-js");
    expect(problems).toEqual([]);
    await page.close();
  });
});
