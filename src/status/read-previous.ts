import { readFile } from "node:fs/promises";
import { request } from "undici";
import { describeError } from "../errors.js";
import { warn, type Logger } from "../logger.js";
import { StatusJson } from "./status-json.js";

/** The most of a previous status.json read (a 5,000-name page's is a few MB). */
const MAX_PREVIOUS_BYTES = 64 * 1024 * 1024;

/**
 * The previous page's status.json, from a file or an http(s) URL (`--previous`), or undefined with
 * a warning when there is none to use: the first deployment has none yet, a private Pages site
 * may refuse the job, and a file from an incompatible version starts the history afresh. None of
 * that may keep the page from being made; it only loses "failing since" and "last checked".
 */
export async function readPreviousStatus(source: string, opts: { logger: Logger; signal?: AbortSignal }): Promise<StatusJson | undefined> {
  let text: string;
  try {
    const read = /^https?:\/\//i.test(source) ? await fetchText(source, opts.signal) : { text: await readFile(source, "utf8") };
    if ("problem" in read) {
      warn(opts.logger, "status.previous", `previous status ${source}: ${read.problem}; starting without it`, { source });
      return undefined;
    }
    text = read.text;
  } catch (err) {
    warn(opts.logger, "status.previous", `previous status ${source}: ${describeError(err)}; starting without it`, { source });
    return undefined;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    warn(opts.logger, "status.previous", `previous status ${source} is not JSON; starting without it`, { source });
    return undefined;
  }
  const parsed = StatusJson.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? `${issue.path.join(".") || "(root)"}: ${issue.message}` : "bad shape";
    warn(opts.logger, "status.previous", `previous status ${source} is not a status.json of this version (${where}); starting without it`, { source });
    return undefined;
  }
  return parsed.data;
}

/**
 * GET the file; a status other than 200 (a 404 before the first deployment, a redirect to a login
 * page) is a problem to report, not an error. Redirects are not followed.
 */
async function fetchText(url: string, signal: AbortSignal | undefined): Promise<{ text: string } | { problem: string }> {
  const res = await request(url, { method: "GET", headersTimeout: 30_000, bodyTimeout: 60_000, ...(signal ? { signal } : {}) });
  if (res.statusCode !== 200) {
    await res.body.dump();
    return { problem: `HTTP ${res.statusCode}` };
  }
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of res.body) {
    length += (chunk as Buffer).length;
    if (length > MAX_PREVIOUS_BYTES) {
      res.body.destroy();
      return { problem: `larger than ${MAX_PREVIOUS_BYTES} bytes` };
    }
    chunks.push(chunk as Buffer);
  }
  return { text: Buffer.concat(chunks).toString("utf8") };
}
