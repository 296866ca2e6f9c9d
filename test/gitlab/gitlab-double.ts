/**
 * A GitLab API double for the merge-request notes endpoints, on 127.0.0.1: it keeps notes per
 * merge request in memory, pages lists the way GitLab does (`per_page`, `page`, a `Link` header
 * with rel="next"), checks the `PRIVATE-TOKEN` header, and records every request so tests can
 * assert the exchange table. `fail` rules answer matching requests with an error status instead.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

export interface RecordedCall {
  method: string;
  /** Path without the query, URL-decoded, e.g. `/api/v4/projects/1217/merge_requests/7/notes`. */
  path: string;
  query: Record<string, string>;
  /** Parsed JSON or form body of POST/PUT, if any. */
  body?: Record<string, unknown>;
  status: number;
}

export interface StoredNote {
  id: number;
  body: string;
  system: boolean;
  author: { username: string };
}

export interface FailRule {
  method: string;
  /** Matched against the decoded path with `includes`. */
  path: string;
  status: number;
  /** Apply to this many matching requests (default 1). */
  times?: number;
}

export interface GitLabDouble {
  /** `http://127.0.0.1:PORT`, what CI_SERVER_URL would be. */
  readonly url: string;
  readonly token: string;
  readonly calls: RecordedCall[];
  /** Notes of `project`'s merge request `iid`, oldest first (created on first use). */
  notes(project: string, iid: number): StoredNote[];
  fail(rule: FailRule): void;
  close(): Promise<void>;
}

const NOTES = /^\/api\/v4\/projects\/([^/]+)\/merge_requests\/(\d+)\/notes(?:\/(\d+))?$/;

/** Start the double; `token` is the only PRIVATE-TOKEN it accepts. */
export async function startGitLabDouble(token = "glpat-test-token"): Promise<GitLabDouble> {
  const store = new Map<string, StoredNote[]>();
  const calls: RecordedCall[] = [];
  const rules: Required<FailRule>[] = [];
  let nextId = 100;
  const notesOf = (project: string, iid: number): StoredNote[] => {
    const key = `${project}!${iid}`;
    if (!store.has(key)) store.set(key, []);
    return store.get(key)!;
  };

  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => send(res, 500, { message: String(err) }));
  });
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://double");
    const path = decodeURIComponent(url.pathname);
    const body = await readBody(req);
    const call: RecordedCall = { method: req.method ?? "GET", path, query: Object.fromEntries(url.searchParams), ...(body ? { body } : {}), status: 0 };
    calls.push(call);
    const reply = (status: number, json: unknown, headers: Record<string, string> = {}): void => {
      call.status = status;
      send(res, status, json, headers);
    };
    const rule = rules.find((r) => r.times > 0 && r.method === call.method && path.includes(r.path));
    if (rule) {
      rule.times--;
      return reply(rule.status, { message: `${rule.status} injected` });
    }
    if (req.headers["private-token"] !== token) return reply(401, { message: "401 Unauthorized" });
    // Match on the raw path: a project path arrives URL-encoded (`group%2Fproj`), as GitLab wants.
    const m = NOTES.exec(url.pathname);
    if (!m) return reply(404, { message: "404 Not Found" });
    const notes = notesOf(decodeURIComponent(m[1]!), Number(m[2]));
    const noteId = m[3] === undefined ? undefined : Number(m[3]);
    if (call.method === "GET" && noteId === undefined) {
      const perPage = Number(url.searchParams.get("per_page") ?? 20);
      const page = Number(url.searchParams.get("page") ?? 1);
      const sorted = url.searchParams.get("sort") === "asc" ? [...notes] : [...notes].reverse();
      const slice = sorted.slice((page - 1) * perPage, page * perPage);
      const headers: Record<string, string> = { "x-total": String(notes.length), "x-page": String(page), "x-per-page": String(perPage) };
      if (page * perPage < notes.length) {
        const next = new URL(url);
        next.searchParams.set("page", String(page + 1));
        next.searchParams.set("per_page", String(perPage));
        headers["link"] = `<http://${req.headers.host}${next.pathname}${next.search}>; rel="next"`;
        headers["x-next-page"] = String(page + 1);
      }
      return reply(200, slice, headers);
    }
    if (call.method === "POST" && noteId === undefined) {
      if (typeof body?.["body"] !== "string" || body["body"] === "") return reply(400, { message: "body is missing" });
      const note: StoredNote = { id: nextId++, body: body["body"], system: false, author: { username: "plan-bot" } };
      notes.push(note);
      return reply(201, note);
    }
    if (call.method === "PUT" && noteId !== undefined) {
      const note = notes.find((n) => n.id === noteId);
      if (!note) return reply(404, { message: "404 Note Not Found" });
      if (typeof body?.["body"] !== "string") return reply(400, { message: "body is missing" });
      note.body = body["body"];
      return reply(200, note);
    }
    return reply(405, { message: "405 Method Not Allowed" });
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    calls,
    notes: notesOf,
    fail: (rule) => void rules.push({ times: 1, ...rule }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  if (chunks.length === 0) return undefined;
  const text = Buffer.concat(chunks).toString("utf8");
  if (String(req.headers["content-type"] ?? "").includes("json")) return JSON.parse(text) as Record<string, unknown>;
  return Object.fromEntries(new URLSearchParams(text));
}

function send(res: ServerResponse, status: number, json: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(json));
}
