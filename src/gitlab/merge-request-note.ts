import { GitLabError } from "../errors.js";
import { GitLabNote } from "./schema.js";

/**
 * The three calls of GitLab's merge-request notes API that a plan note needs. @gitbeaker/rest's
 * `MergeRequestNotes` has exactly this shape; tests may pass anything else that speaks it.
 */
export interface MergeRequestNotesApi {
  all(projectId: string | number, mergeRequestIid: number, options?: { sort?: "asc" | "desc"; orderBy?: "created_at" | "updated_at" }): Promise<unknown>;
  create(projectId: string | number, mergeRequestIid: number, body: string): Promise<unknown>;
  edit(projectId: string | number, mergeRequestIid: number, noteId: number, options: { body: string }): Promise<unknown>;
}

/** Which merge request, and the marker that identifies our note on it. */
export interface NoteTarget {
  /** Numeric id or URL-unencoded path (`group/project`). */
  project: string | number;
  mergeRequestIid: number;
  /** Hidden first line of the note (planNoteMarker). */
  marker: string;
}

/** What upsertMergeRequestNote did. */
export interface NoteResult {
  action: "created" | "updated" | "unchanged";
  noteId: number;
}

/**
 * Post `body` (which must start with `target.marker`) as a note on the merge request, or, when a
 * note starting with the marker is there already, edit that note instead, so that every pipeline
 * of one merge request keeps a single plan note up to date. The oldest such note wins (others are
 * left alone); system notes and notes that merely quote the marker are ignored. A note whose body
 * is already `body` is not touched (no edit, no notification). API failures become GitLabError.
 */
export async function upsertMergeRequestNote(api: MergeRequestNotesApi, target: NoteTarget, body: string): Promise<NoteResult> {
  if (!body.startsWith(target.marker)) throw new GitLabError(`note body must start with its marker ${target.marker}`);
  const where = `merge request !${target.mergeRequestIid} of project ${target.project}`;
  const listed = await call(`list notes of ${where}`, () => api.all(target.project, target.mergeRequestIid, { sort: "asc", orderBy: "created_at" }));
  const notes = GitLabNote.array().safeParse(listed);
  if (!notes.success) throw new GitLabError(`list notes of ${where}: unexpected reply (${notes.error.issues[0]?.message ?? "not a note list"})`);
  const existing = notes.data.find((n) => n.system !== true && n.body.trimStart().startsWith(target.marker));
  if (existing) {
    if (existing.body === body) return { action: "unchanged", noteId: existing.id };
    const edited = await call(`edit note ${existing.id} of ${where}`, () => api.edit(target.project, target.mergeRequestIid, existing.id, { body }));
    return { action: "updated", noteId: GitLabNote.safeParse(edited).data?.id ?? existing.id };
  }
  const created = GitLabNote.safeParse(await call(`create note on ${where}`, () => api.create(target.project, target.mergeRequestIid, body)));
  if (!created.success) throw new GitLabError(`create note on ${where}: unexpected reply`);
  return { action: "created", noteId: created.data.id };
}

/** Run one API call, turning gitbeaker's errors into a GitLabError with the status and reason. */
async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new GitLabError(`${what}: ${describe(err)}`, { cause: err });
  }
}

/** gitbeaker errors carry `cause.response` (a fetch Response) and `cause.description`. */
function describe(err: unknown): string {
  const cause = (err as { cause?: { description?: unknown; response?: { status?: number } } } | undefined)?.cause;
  const status = cause?.response?.status;
  const reason = typeof cause?.description === "string" ? cause.description : err instanceof Error ? err.message : String(err);
  return status !== undefined ? `HTTP ${status}: ${reason}` : reason;
}
