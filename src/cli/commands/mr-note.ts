
import { ConfigError } from "../../errors.js";
import { createMergeRequestNotesApi, readGitLabToken } from "../../gitlab/gitlab-notes-api.js";
import { upsertMergeRequestNote } from "../../gitlab/merge-request-note.js";
import { planNoteMarker, renderPlanNote } from "../../gitlab/plan-note.js";
import { PlanJson } from "../../gitlab/schema.js";
import { readJsonFile } from "../../json-file.js";
import { debug } from "../../logger.js";
import type { CommandInput } from "../context.js";

/**
 * `mr-note PLAN_JSON`: post the plan (the file `plan --format json` wrote) as a note on the merge
 * request, or update the note an earlier pipeline of the same merge request posted. GitLab URL,
 * project and merge request come from the CI predefined variables; the token from a file variable.
 */
export async function run({ args, options, settings, logger, ctx }: CommandInput): Promise<number> {
  const file = args[0];
  if (file === undefined) throw new ConfigError("mr-note needs the plan file written by plan --format json");
  const url = required(options, "gitlabUrl", "--gitlab-url (CI_SERVER_URL)");
  const project = required(options, "project", "--project (CI_PROJECT_ID)");
  const iidText = required(options, "mergeRequest", "--merge-request (CI_MERGE_REQUEST_IID)");
  const mergeRequestIid = Number(iidText);
  if (!Number.isInteger(mergeRequestIid) || mergeRequestIid < 1) throw new ConfigError(`--merge-request must be a merge request iid, got "${iidText}"`);
  const plan = await readPlan(file);
  const token = await readGitLabToken(options["gitlabTokenFile"] as string | undefined, ctx.env);
  const statusUrl = (options["statusUrl"] as string | undefined) || undefined;
  if (statusUrl !== undefined && !/^https?:\/\/\S+$/.test(statusUrl)) throw new ConfigError(`--status-url must be an http(s) URL, got "${statusUrl}"`);

  const marker = planNoteMarker(settings.repo);
  const body = renderPlanNote(plan, {
    repo: settings.repo,
    ...(ctx.env["CI_PIPELINE_URL"] ? { pipelineUrl: ctx.env["CI_PIPELINE_URL"] } : {}),
    ...(ctx.env["CI_COMMIT_SHA"] ? { commitSha: ctx.env["CI_COMMIT_SHA"] } : {}),
    ...(statusUrl ? { statusUrl } : {}),
  });
  const result = await upsertMergeRequestNote(createMergeRequestNotesApi({ url, token }), { project, mergeRequestIid, marker }, body);
  const summary = `${result.action} note ${result.noteId} on merge request !${mergeRequestIid}`;
  ctx.stdout.write(`${summary}\n`);
  // The summary is already on stdout; the event is for --log-format json consumers.
  debug(logger, "mr-note.done", summary, { action: result.action, noteId: result.noteId, mergeRequest: mergeRequestIid });
  return 0;
}

function required(options: Record<string, unknown>, key: string, flag: string): string {
  const value = options[key];
  if (typeof value !== "string" || value === "") throw new ConfigError(`mr-note needs ${flag}`);
  return value;
}

function readPlan(file: string): Promise<PlanJson> {
  return readJsonFile(PlanJson, file, { what: "plan file", noun: "a plan", writtenBy: "plan --format json" });
}
