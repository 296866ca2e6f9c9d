/**
 * The registry client: resolve a reference to a manifest digest with one HEAD, fetch an image
 * (index → platform → manifest → config, each digest-verified) as the `Image`/`Layer` model,
 * stream layers, list tags. One transport per registry host, sharing one keep-alive HTTP agent.
 *
 *   const client = createRegistryClient({ insecureRegistries: ["127.0.0.1:5000"] });
 *   const image = await client.image("127.0.0.1:5000/ns/app:1", "linux/arm64");
 *   const bytes = await image.layers[0]!.compressed();
 */
import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import { warn } from "../logger.js";
import { ConfigError, DigestMismatchError, ManifestError, PlatformError } from "../errors.js";
import { formatImageReference, manifestSelector, parseImageReference, withDigest, type ImageReference } from "../wishlist/reference.js";
import { openBlob, readSmallBlob, type OpenBlobOptions } from "./blob-stream.js";
import { CredentialStore, defaultAuthFile, loadDockerCredentialConfig } from "./credentials.js";
import { formatPlatform, type Descriptor, type Image, type Platform } from "./image.js";
import { MANIFEST_ACCEPT, parseManifest, type ParsedManifest } from "./manifest.js";
import { fillRegistryClientOptions, type RegistryClientOptions, type ResolvedRegistryClientOptions } from "./options.js";
import { choosePlatform, DEFAULT_PLATFORM, parsePlatform } from "./platform.js";
import { RegistryAuth, pullScope } from "./registry-auth.js";
import { buildImage } from "./registry-image.js";
import { RegistryTransport } from "./registry-transport.js";
import { listTags } from "./tag-list.js";
import { verifyBytes } from "./verified-reader.js";

/** What a HEAD (or GET) of a manifest says: enough to tell whether a tag moved. */
export interface ResolvedManifest {
  reference: ImageReference;
  /** Digest of the manifest or index the reference names. */
  digest: string;
  mediaType: string;
  size?: number;
}

/** A fetched, verified and parsed manifest or index. */
export interface FetchedManifest {
  digest: string;
  bytes: Buffer;
  parsed: ParsedManifest;
}

export interface RegistryClient {
  /** The manifest digest and media type of `ref`, by one HEAD (GET when HEAD gives no digest). */
  resolve(ref: ImageReference | string, options?: { signal?: AbortSignal }): Promise<ResolvedManifest>;
  /**
   * The single-platform image `ref` names; an index is resolved to `platform` (default
   * linux/amd64, as `os/arch[/variant]` or a Platform). PlatformError if the index lacks it.
   */
  image(ref: ImageReference | string, platform?: Platform | string, options?: { signal?: AbortSignal }): Promise<Image>;
  /** All tags of `ref`'s repository (tag and digest of `ref` are ignored), across pages. */
  listTags(ref: ImageReference | string, options?: { signal?: AbortSignal }): Promise<string[]>;
  /** The manifest or index `ref` names, verified against its digest. */
  manifest(ref: ImageReference | string, options?: { signal?: AbortSignal }): Promise<FetchedManifest>;
  /** A verified stream of one blob of `ref`'s repository. */
  blob(ref: ImageReference | string, descriptor: Descriptor, options?: OpenBlobOptions): Promise<Readable>;
  /** Close idle connections (when the client owns its HTTP agent). */
  close(): Promise<void>;
}

const MAX_MANIFEST = 4 * 1024 * 1024;
const MAX_CONFIG = 8 * 1024 * 1024;

const asRef = (ref: ImageReference | string): ImageReference => (typeof ref === "string" ? parseImageReference(ref) : ref);

/** Build a client; credentials are read on first use. See RegistryClientOptions for every field. */
export function createRegistryClient(options: RegistryClientOptions = {}): RegistryClient {
  checkRegistryClientOptions(options);
  const opts: ResolvedRegistryClientOptions = fillRegistryClientOptions(options);
  const transports = new Map<string, RegistryTransport>();
  let credentials: Promise<CredentialStore> | undefined;

  // The file is read once; credential helpers run per host, when a transport for it is first made.
  const loadCredentials = (): Promise<CredentialStore> => {
    credentials ??= (async () => {
      const file = opts.authFile === false ? undefined : (opts.authFile ?? defaultAuthFile());
      return new CredentialStore(file ? await loadDockerCredentialConfig(file) : undefined, { explicit: opts.credentials, ...(file ? { source: file } : {}) });
    })();
    return credentials;
  };

  async function transportFor(registry: string): Promise<RegistryTransport> {
    let t = transports.get(registry);
    if (!t) {
      const cred = await (await loadCredentials()).get(registry);
      t = transports.get(registry);
      if (!t) {
        t = new RegistryTransport(registry, new RegistryAuth(registry, cred, opts.dispatcher, opts.logger, opts.userAgent), opts);
        transports.set(registry, t);
      }
    }
    return t;
  }

  async function fetchManifest(ref: ImageReference, selector: string, signal?: AbortSignal): Promise<FetchedManifest> {
    const t = await transportFor(ref.registry);
    const what = `manifest ${ref.registry}/${ref.repository}${selector.includes(":") ? "@" : ":"}${selector}`;
    for (let attempt = 1; ; attempt++) {
      const res = await t.send({
        method: "GET",
        url: `/v2/${ref.repository}/manifests/${selector}`,
        scope: pullScope(ref.repository),
        headers: { accept: MANIFEST_ACCEPT },
        what: `get ${what}`,
        ...(signal ? { signal } : {}),
      });
      const parts: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > MAX_MANIFEST) {
          res.body.destroy();
          throw new ManifestError(`${what} is larger than ${MAX_MANIFEST} bytes`);
        }
        parts.push(chunk as Buffer);
      }
      const bytes = Buffer.concat(parts);
      const header = res.headers["docker-content-digest"];
      const expected = selector.includes(":") ? selector : typeof header === "string" && header.startsWith("sha256:") ? header : undefined;
      try {
        if (expected) verifyBytes(bytes, expected, undefined, what);
      } catch (err) {
        if (attempt > opts.retries) throw err;
        warn(opts.logger, "registry.retry", `${(err as Error).message}; fetching again`, { registry: ref.registry, attempt, reason: "corrupt" });
        continue;
      }
      const digest = expected ?? `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
      const contentType = res.headers["content-type"];
      return { digest, bytes, parsed: parseManifest(bytes, typeof contentType === "string" ? contentType : undefined, what) };
    }
  }

  return {
    async resolve(input, options = {}) {
      const ref = asRef(input);
      const t = await transportFor(ref.registry);
      const res = await t.send({
        method: "HEAD",
        url: `/v2/${ref.repository}/manifests/${manifestSelector(ref)}`,
        scope: pullScope(ref.repository),
        headers: { accept: MANIFEST_ACCEPT },
        what: `resolve ${formatImageReference(ref)}`,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      await res.body.dump();
      const digest = res.headers["docker-content-digest"];
      const type = String(res.headers["content-type"] ?? "").split(";")[0]!.trim();
      const length = Number(res.headers["content-length"]);
      if (typeof digest === "string" && digest !== "" && type !== "") {
        if (ref.digest && digest !== ref.digest) throw new DigestMismatchError(`resolve ${formatImageReference(ref)}`, ref.digest, digest);
        return { reference: ref, digest, mediaType: type, ...(Number.isFinite(length) ? { size: length } : {}) };
      }
      const fetched = await fetchManifest(ref, manifestSelector(ref), options.signal);
      return { reference: ref, digest: fetched.digest, mediaType: fetched.parsed.mediaType, size: fetched.bytes.length };
    },

    async image(input, platformInput, options = {}) {
      const ref = asRef(input);
      const want = platformInput === undefined ? DEFAULT_PLATFORM : typeof platformInput === "string" ? parsePlatform(platformInput) : platformInput;
      const signal = options.signal;
      const top = await fetchManifest(ref, manifestSelector(ref), signal);
      let chosen = top;
      let indexDigest: string | undefined;
      let indexPlatform: Platform | undefined;
      if (top.parsed.kind === "index") {
        const entries = top.parsed.index.manifests;
        const i = choosePlatform(want, entries.map((m) => m.platform));
        if (i < 0) {
          throw new PlatformError(formatPlatform(want), entries.flatMap((m) => (m.platform && m.platform.os !== "unknown" ? [formatPlatform(m.platform)] : [])), formatImageReference(ref));
        }
        const entry = entries[i]!;
        indexDigest = top.digest;
        indexPlatform = entry.platform;
        chosen = await fetchManifest(ref, entry.digest, signal);
        if (chosen.parsed.kind !== "image") throw new ManifestError(`${formatImageReference(ref)}: index entry ${entry.digest} is not an image manifest`);
      }
      if (chosen.parsed.kind !== "image") throw new ManifestError(`${formatImageReference(ref)}: not an image`);
      const t = await transportFor(ref.registry);
      const manifest = chosen.parsed.manifest;
      const configBytes = await readSmallBlob(t, ref.repository, manifest.config, MAX_CONFIG, {
        what: `config ${manifest.config.digest}`,
        ...(signal ? { signal } : {}),
      });
      return buildImage({
        reference: withDigest(ref, chosen.digest),
        manifestDigest: chosen.digest,
        ...(indexDigest ? { indexDigest } : {}),
        manifestMediaType: chosen.parsed.mediaType,
        manifest,
        configBytes,
        manifestBytes: chosen.bytes,
        indexPlatform,
        open: (descriptor, o) => openBlob(t, ref.repository, descriptor, o),
      });
    },

    async listTags(input, options = {}) {
      const ref = asRef(input);
      return listTags(await transportFor(ref.registry), ref.repository, opts.tagPageSize, options.signal);
    },

    async manifest(input, options = {}) {
      const ref = asRef(input);
      return fetchManifest(ref, manifestSelector(ref), options.signal);
    },

    async blob(input, descriptor, options = {}) {
      const ref = asRef(input);
      return openBlob(await transportFor(ref.registry), ref.repository, descriptor, options);
    },

    async close() {
      if (opts.ownsDispatcher) await opts.dispatcher.close();
    },
  };
}

/** Reject options that cannot work, early and with a clear message (ConfigError). */
export function checkRegistryClientOptions(options: RegistryClientOptions): void {
  for (const host of options.insecureRegistries ?? []) {
    if (/[/\s]/.test(host) || host.includes("://")) throw new ConfigError(`insecure registry "${host}" must be HOST:PORT, without scheme or path`);
  }
}
