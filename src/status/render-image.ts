import { esc, page, shellWord, size, text, when, type PageAssets } from "./html.js";
import type { StatusImage, StatusJson, StatusName } from "./status-json.js";

/**
 * Pure: the detail page of one image (`i/<hex>.html`), reached from each of its names: per name
 * its wishlist origin, owners, times and commands to copy; then what the image runs
 * (Entrypoint, Cmd, Env, Labels from its OCI config), its digests and its layers.
 */
export function renderImage(status: StatusJson, image: StatusImage, names: readonly StatusName[], assets: PageAssets): string {
  const mount = status.repository.mountPath;
  const title = names[0]?.name ?? image.references[0] ?? image.hex;
  const body = [
    `<header>\n<p><a href="../index.html">← ${text(status.repository.name)}: all images</a></p>`,
    `<h1>${text(title)}</h1>`,
    `<p class="mute">Image <code>${text(image.configDigest)}</code>, ${names.length} name(s). Page made ${when(status.generatedAt)} UTC.</p>\n</header>`,
    `<section id="names">\n<h2>Names</h2>`,
    ...names.map((n, k) => nameBlock(n, k, mount)),
    `</section>`,
    runConfig(image),
    `<section id="image">\n<h2>Image</h2>\n<dl class="kv">`,
    kv("Directory", `<code>${text(mount + image.dir, 500)}</code>`),
    kv("Platform", text(image.platform)),
    kv("Manifest digest", `<code>${text(image.manifestDigest)}</code>`),
    image.indexDigest ? kv("Index digest", `<code>${text(image.indexDigest)}</code>`) : "",
    kv("Config digest", `<code>${text(image.configDigest)}</code>`),
    kv("Converted", `${when(image.convertedAt)} UTC`),
    kv("Files", String(image.files)),
    kv("Size", size(image.bytes)),
    kv("Formats", image.formats.join(", ")),
    kv("References", image.references.map((r) => `<code>${text(r)}</code>`).join("<br>") || "-"),
    `</dl>\n</section>`,
    layers(image),
  ].join("\n");
  return page(`${title}: ${status.repository.name}`, body, assets);
}

function kv(key: string, value: string): string {
  return `<dt>${key}</dt><dd>${value}</dd>`;
}

function nameBlock(n: StatusName, k: number, mount: string): string {
  // A per-architecture name is run through the variant link: one path, each node its own image.
  const path = mount + (n.perArch?.hostPath ?? n.path);
  const commands = [`apptainer exec ${shellWord(path)} cat /etc/os-release`, `podman run --rm -it --rootfs ${shellWord(`${path}:O`)} /bin/sh`];
  return [
    `<div class="name" id="n-${k}">`,
    `<h3>${text(n.name)}${n.perArch ? ` <span class="mute">${text(n.perArch.arch)}</span>` : ""}${n.failing ? ` <span class="bad">failing</span>` : ""}</h3>`,
    `<dl class="kv">`,
    kv("Path", `<code>${text(mount + n.path, 500)}</code>`),
    ...(n.perArch
      ? [kv("Architecture", `${text(n.perArch.arch)}: nodes whose <code>CVMFS_ARCH</code> is <code>${text(n.perArch.clientArch)}</code> find it at <code>${text(path, 500)}</code>`)]
      : []),
    kv("Tag", text(n.tag)),
    kv("Wishlist", n.origin ? `<code>${text(`${n.origin.file}:${n.origin.line}`)}</code>${n.origin.text !== undefined ? ` <code>${text(n.origin.text)}</code>` : ""}` : "-"),
    kv("Owners", n.owners.length > 0 ? n.owners.map((o) => text(o)).join(", ") : "-"),
    kv("Published", `${when(n.publishedAt)}`),
    kv("Last checked", `${when(n.lastChecked)}`),
    `</dl>`,
    ...commands.map((c) => `<div class="cmd"><pre>${esc(c)}</pre></div>`),
    `</div>`,
  ].join("\n");
}

function words(list: readonly string[] | null): string {
  return list === null ? `<span class="mute">not set</span>` : `<code>${text(list.map(shellWord).join(" "), 4000)}</code>`;
}

function runConfig(image: StatusImage): string {
  const c = image.config;
  const env = c.env.length === 0 ? `<p class="mute">No environment variables.</p>` : `<pre>${c.env.map((e) => text(e, 4000)).join("\n")}</pre>`;
  const labels = Object.entries(c.labels);
  const labelTable =
    labels.length === 0
      ? `<p class="mute">No labels.</p>`
      : `<table>\n<thead><tr><th>Label</th><th>Value</th></tr></thead>\n<tbody>\n${labels.map(([k, v]) => `<tr><td><code>${text(k)}</code></td><td>${text(v, 4000)}</td></tr>`).join("\n")}\n</tbody>\n</table>`;
  return [
    `<section id="config">\n<h2>What it runs</h2>\n<dl class="kv">`,
    kv("Entrypoint", words(c.entrypoint)),
    kv("Cmd", words(c.cmd)),
    kv("Working directory", c.workingDir === null ? `<span class="mute">not set</span>` : `<code>${text(c.workingDir)}</code>`),
    kv("User", c.user === null ? `<span class="mute">not set</span>` : `<code>${text(c.user)}</code>`),
    `</dl>\n<h3>Env</h3>\n${env}\n<h3>Labels</h3>\n${labelTable}\n</section>`,
  ].join("\n");
}

function layers(image: StatusImage): string {
  const rows = image.layers.map((l, i) => `<tr><td>${i + 1}</td><td><code>${text(l.digest)}</code></td><td>${size(l.size)}</td><td class="m">${text(l.mediaType)}</td></tr>`);
  return [
    `<section id="layers">\n<h2>Layers (${image.layers.length}, base first)</h2>`,
    `<table>\n<thead><tr><th>#</th><th>Digest</th><th>Compressed size</th><th>Media type</th></tr></thead>\n<tbody>`,
    ...rows,
    `</tbody>\n</table>\n</section>`,
  ].join("\n");
}
