import { readFile } from "node:fs/promises";
import { MergeRequestNotes } from "@gitbeaker/rest";
import { ConfigError } from "../errors.js";
import type { MergeRequestNotesApi } from "./merge-request-note.js";

/** Where the GitLab API is and how to authenticate. */
export interface GitLabConnection {
  /** Base URL of the GitLab instance (CI_SERVER_URL), e.g. https://gitlab.example.org. */
  url: string;
  /** Personal, project or group access token with the `api` scope. Never logged. */
  token: string;
}

/**
 * The merge-request notes API of one GitLab instance, through @gitbeaker/rest (which pages
 * through `all` itself and retries on rate limits). The job token (CI_JOB_TOKEN) cannot write
 * notes, which is why a real access token is needed.
 */
export function createMergeRequestNotesApi(connection: GitLabConnection): MergeRequestNotesApi {
  return new MergeRequestNotes({ host: connection.url.replace(/\/+$/, ""), token: connection.token }) as unknown as MergeRequestNotesApi;
}

/**
 * The access token: the first line of `tokenFile` when given (a GitLab *file* variable keeps it
 * out of the job's environment listing), else `env.GITLAB_TOKEN`. Neither → ConfigError (exit 2).
 */
export async function readGitLabToken(tokenFile: string | undefined, env: NodeJS.ProcessEnv): Promise<string> {
  if (tokenFile !== undefined && tokenFile !== "") {
    let text: string;
    try {
      text = await readFile(tokenFile, "utf8");
    } catch (err) {
      throw new ConfigError(`--gitlab-token-file ${tokenFile}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    const token = text.split(/\r?\n/)[0]?.trim() ?? "";
    if (token === "") throw new ConfigError(`--gitlab-token-file ${tokenFile} is empty`);
    return token;
  }
  const token = env["GITLAB_TOKEN"]?.trim();
  if (!token) {
    throw new ConfigError(
      "no GitLab token: set CVMFS_IMAGE_SYNC_GITLAB_TOKEN_FILE (a file variable holding an access token with the api scope) or GITLAB_TOKEN",
    );
  }
  return token;
}
