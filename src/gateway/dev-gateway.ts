import { hostname as osHostname } from "node:os";
import type { IncomingMessage, ServerResponse } from "node:http";
import { ConfigError, GatewayError } from "../errors.js";
import { debug, info, silentLogger, warn, type Logger } from "../logger.js";
import { drain, readBody, sendError, sendJson, sendText, splitHead } from "./_http.js";
import { checkAccess, readAccessConfig, type AccessConfig } from "./access-config.js";
import { formatGoDuration } from "./go-duration.js";
import { parseAuthorization } from "./hmac.js";
import { goTimeString, LeaseService, type Lease } from "./lease-service.js";
import { processPayload } from "./payload-processor.js";
import { createCommitProcessor, type CommitFn } from "./commit-processor.js";
import { Stratum0 } from "../cvmfs/repository/stratum0.js";
import { CommitRequest, LeaseRequest, PayloadMessage } from "./schema.js";

/** Options of {@link createGatewayHandler}. */
export interface DevGatewayOptions {
  /** The stratum 0 directory payloads are stored into and commits publish. */
  stratum0Dir: string;
  fqrn: string;
  /** Where the repository keys live (for signing the manifest on commit). */
  keysDir: string;
  /** A `repo.json` v2 file, or the configuration itself. One of the two is required. */
  accessConfigPath?: string;
  access?: AccessConfig;
  /** Lease lifetime in seconds (`max_lease_time`); default 7200. */
  maxLeaseTime?: number;
  logger?: Logger;
  /** Applies commits; by default a commit processor on the stratum 0 (opened on first commit). */
  commit?: CommitFn;
  /** Clock for lease expiry (tests). */
  now?: () => number;
}

/** Counters of what the gateway received, for tests and benchmarks. */
export interface GatewayStats {
  payloads: number;
  /** Payload body bytes (JSON message + pack). */
  payloadBytes: number;
  objectsReceived: number;
  objectsStored: number;
  commits: number;
}

/** The request handler for `/api/v1…`, with its lease table and counters exposed. */
export interface GatewayHandler {
  (req: IncomingMessage, res: ServerResponse): Promise<void>;
  leases: LeaseService;
  stats: GatewayStats;
  /** Release what the default commit processor holds (temporary catalog copies). */
  close(): Promise<void>;
}

const API = "/api/v1";

/**
 * A development CVMFS gateway that behaves like cvmfs-gateway + cvmfs_receiver 2.12
 * (cvmfs-formats.md §5, §8): same routes, HMAC rules, reply shapes and reasons, HTTP 200 for
 * refusals, `text/plain` replies. It is stricter where the real one is silently lenient (pack
 * digest, trailing bytes), so client bugs surface in tests rather than in production. Mount it
 * under `/api/v1` with `createRepositoryServer({ apiHandler })`.
 */
export async function createGatewayHandler(opts: DevGatewayOptions): Promise<GatewayHandler> {
  const configured = opts.access ?? (opts.accessConfigPath ? await readAccessConfig(opts.accessConfigPath) : undefined);
  if (!configured) throw new ConfigError("dev gateway: an access configuration (access or accessConfigPath) is required");
  const access: AccessConfig = configured;
  const logger = opts.logger ?? silentLogger;
  const leases = new LeaseService({ maxLeaseTimeMs: (opts.maxLeaseTime ?? 7200) * 1000, now: opts.now });
  let defaultCommit: Promise<CommitFn> | undefined;
  let stratum0: Stratum0 | undefined;
  const commitFn = (): Promise<CommitFn> => {
    if (opts.commit) return Promise.resolve(opts.commit);
    defaultCommit ??= Stratum0.openOrCreate(opts.stratum0Dir, { fqrn: opts.fqrn, keysDir: opts.keysDir, logger }).then(
      (s0) => {
        stratum0 = s0;
        return createCommitProcessor({ stratum0: s0, logger });
      },
      (err: unknown) => {
        defaultCommit = undefined;
        throw err;
      },
    );
    return defaultCommit;
  };
  const stats: GatewayStats = { payloads: 0, payloadBytes: 0, objectsReceived: 0, objectsStored: 0, commits: 0 };

  /** The key id when `Authorization` signs `message` with a known key; undefined otherwise. */
  const authenticate = (req: IncomingMessage, message: string | Uint8Array): string | undefined => {
    const auth = parseAuthorization(req.headers.authorization);
    const key = auth && access.keys.get(auth.keyId);
    return auth && key?.verify(message, auth.signature) ? key.id : undefined;
  };

  const leaseInfo = (l: Lease) => ({ key_id: l.keyId, path: `${l.fqrn}${l.subpath}`, expires: goTimeString(l.expires), hostname: l.hostname });

  const repoInfo = (fqrn: string) => ({
    keys: Object.fromEntries(access.repos.get(fqrn) ?? []),
    enabled: true,
  });

  async function newLease(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    if (!body) return sendText(res, 400, "request body too large");
    const keyId = authenticate(req, body);
    if (!keyId) return sendError(res, "invalid_hmac");
    let parsed;
    try {
      parsed = LeaseRequest.safeParse(JSON.parse(body.toString("utf8")));
    } catch {
      return sendText(res, 400, "invalid request body");
    }
    if (!parsed.success) return sendText(res, 400, "invalid request body");
    const apiVersion = Number(parsed.data.api_version);
    if (apiVersion < 2) return sendError(res, `incompatible client API version ${apiVersion}`);
    const slash = parsed.data.path.indexOf("/");
    if (slash <= 0) return sendError(res, "missing repository name or subpath");
    const fqrn = parsed.data.path.slice(0, slash);
    const subpath = parsed.data.path.slice(slash);
    if (!access.repos.has(fqrn) || fqrn !== opts.fqrn) return sendError(res, "repository not found: %!w(<nil>)");
    const decision = checkAccess(access, fqrn, keyId, subpath);
    if (decision !== "ok") return sendError(res, `authorization error: ${decision}`);
    const r = leases.acquire(fqrn, subpath, keyId, parsed.data.hostname ?? "");
    if (!r.ok) return sendJson(res, { status: "path_busy", time_remaining: formatGoDuration(r.remainingMs) });
    info(logger, "gateway.lease", `lease on ${parsed.data.path} for key ${keyId}`, { path: parsed.data.path, keyId });
    sendJson(res, { status: "ok", session_token: r.lease.token, max_api_version: Math.min(apiVersion, 3) });
  }

  async function commit(req: IncomingMessage, res: ServerResponse, token: string): Promise<void> {
    const body = await readBody(req);
    if (!body) return sendText(res, 400, "request body too large");
    if (!authenticate(req, token)) return sendError(res, "invalid_hmac");
    const lease = leases.get(token);
    if (!lease) return sendError(res, "invalid lease");
    let parsed;
    try {
      parsed = CommitRequest.safeParse(JSON.parse(body.toString("utf8")));
    } catch {
      return sendText(res, 400, "invalid request body");
    }
    if (!parsed.success) return sendText(res, 400, "invalid request body");
    if (lease.poisoned) {
      // The real gateway keeps nothing to commit with after a failed commit (§8.5).
      return sendError(res, `could not obtain statistics counters: no statistics counters for lease ${lease.fqrn}${lease.subpath}`);
    }
    try {
      const revision = await (await commitFn())(lease, parsed.data);
      leases.drop(token);
      stats.commits++;
      info(logger, "gateway.commit", `committed ${lease.fqrn}${lease.subpath} as revision ${revision}`, { revision });
      sendJson(res, { status: "ok", final_revision: revision });
    } catch (err) {
      lease.poisoned = true;
      const reason = err instanceof GatewayError && err.reason ? err.reason : `merge_error: ${(err as Error).message}`;
      warn(logger, "gateway.commit_failed", `commit on ${lease.fqrn}${lease.subpath} failed: ${reason}`);
      sendError(res, reason);
    }
  }

  async function payload(req: IncomingMessage, res: ServerResponse, urlToken: string | undefined): Promise<void> {
    const size = Number(req.headers["message-size"]);
    if (!Number.isSafeInteger(size) || size <= 0 || size > 1 << 20) return sendText(res, 400, "missing or invalid Message-Size header");
    const { head, rest, received } = await splitHead(req, size);
    const finish = async (reply: () => void) => {
      await drain(rest);
      stats.payloadBytes += received();
      reply();
    };
    if (!head) return finish(() => sendText(res, 400, "body shorter than Message-Size"));
    if (!authenticate(req, urlToken ?? head)) return finish(() => sendError(res, "invalid_hmac"));
    let msg;
    try {
      msg = PayloadMessage.safeParse(JSON.parse(head.toString("utf8")));
    } catch {
      return finish(() => sendText(res, 400, "invalid payload message"));
    }
    if (!msg.success) return finish(() => sendText(res, 400, "invalid payload message"));
    const token = urlToken ?? msg.data.session_token;
    const lease = token === undefined ? undefined : leases.get(token);
    if (!lease) return finish(() => sendError(res, "invalid lease"));
    try {
      const r = await processPayload(opts.stratum0Dir, rest, {
        headerSize: Number(msg.data.header_size),
        payloadDigest: msg.data.payload_digest,
      });
      stats.payloads++;
      stats.objectsReceived += r.objects;
      stats.objectsStored += r.stored;
      debug(logger, "gateway.payload", `payload of ${r.objects} object(s), ${r.stored} new`, { ...r });
      await finish(() => sendJson(res, { status: "ok" }));
    } catch (err) {
      const reason = err instanceof GatewayError && err.reason ? err.reason : `uploader_error: ${(err as Error).message}`;
      warn(logger, "gateway.payload_rejected", `payload rejected: ${reason}`);
      await finish(() => sendError(res, reason));
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0] as string;
    if (path !== API && !path.startsWith(`${API}/`)) return sendText(res, 404, "not found");
    const rel = path.slice(API.length);
    const method = req.method ?? "GET";
    const seg = rel.split("/").filter((s) => s.length > 0);
    const [head, arg, extra] = [seg[0], seg[1] === undefined ? undefined : decodeURIComponent(seg[1]), seg[2]];
    if (extra !== undefined) return sendText(res, 404, "not found");
    if (method === "GET" && head === undefined) return sendJson(res, { welcome: `dev gateway for ${opts.fqrn} on ${osHostname()}` });
    if (method === "GET" && head === "repos") {
      if (arg === undefined) return sendJson(res, { status: "ok", data: Object.fromEntries([...access.repos.keys()].map((r) => [r, repoInfo(r)])) });
      return access.repos.has(arg) ? sendJson(res, { status: "ok", data: repoInfo(arg) }) : sendError(res, "invalid_repo");
    }
    if (head === "leases") {
      if (method === "GET" && arg === undefined) {
        return sendJson(res, { status: "ok", data: Object.fromEntries(leases.list().map((l) => [`${l.fqrn}${l.subpath}`, leaseInfo(l)])) });
      }
      if (method === "GET") {
        const l = leases.get(arg as string);
        return l ? sendJson(res, { data: leaseInfo(l) }) : sendText(res, 500, "invalid lease");
      }
      if (method === "POST" && arg === undefined) return newLease(req, res);
      if (method === "POST") return commit(req, res, arg as string);
      if (method === "DELETE" && arg === undefined) return sendText(res, 307, "", { location: `${API}/leases` });
      if (method === "DELETE") {
        if (!authenticate(req, arg as string)) return sendError(res, "invalid_hmac");
        return leases.drop(arg as string) ? sendJson(res, { status: "ok" }) : sendError(res, "invalid lease");
      }
    }
    if (head === "payloads" && method === "POST") return payload(req, res, arg);
    sendText(res, 404, "not found");
  }

  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      await route(req, res);
    } catch (err) {
      warn(logger, "gateway.internal", `request failed: ${(err as Error).message}`);
      if (!res.headersSent) sendText(res, 500, `internal error: ${(err as Error).message}`);
      else res.destroy();
    }
  };
  const close = async (): Promise<void> => {
    await stratum0?.close();
  };
  return Object.assign(handler, { leases, stats, close });
}
