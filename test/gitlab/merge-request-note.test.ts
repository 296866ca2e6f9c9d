import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitLabError } from "../../src/errors.js";
import { createMergeRequestNotesApi } from "../../src/gitlab/gitlab-notes-api.js";
import { upsertMergeRequestNote } from "../../src/gitlab/merge-request-note.js";
import { planNoteMarker } from "../../src/gitlab/plan-note.js";
import { startGitLabDouble, type GitLabDouble } from "./gitlab-double.js";

let gitlab: GitLabDouble;
beforeAll(async () => {
  gitlab = await startGitLabDouble();
});
afterAll(async () => {
  await gitlab.close();
});

const marker = planNoteMarker("images.local");
const NOTES = (project: string, iid: number) => `/api/v4/projects/${project}/merge_requests/${iid}/notes`;

/** Each case: notes already on the merge request, the body to post, what must happen. */
const cases: {
  name: string;
  iid: number;
  before: { body: string; system?: boolean }[];
  body: string;
  action: "created" | "updated" | "unchanged";
  calls: [string, string][];
  after: string[];
}[] = [
  {
    name: "FirstPipelineCreates",
    iid: 1,
    before: [{ body: "LGTM" }],
    body: `${marker}\nplan A`,
    action: "created",
    calls: [["GET", NOTES("1217", 1)], ["POST", NOTES("1217", 1)]],
    after: ["LGTM", `${marker}\nplan A`],
  },
  {
    name: "LaterPipelineEditsTheMarkedNote",
    iid: 2,
    before: [{ body: "first!" }, { body: `${marker}\nplan A` }, { body: "reply" }],
    body: `${marker}\nplan B`,
    action: "updated",
    calls: [["GET", NOTES("1217", 2)], ["PUT", `${NOTES("1217", 2)}/2001`]],
    after: ["first!", `${marker}\nplan B`, "reply"],
  },
  {
    name: "SameBodyIsNotEdited",
    iid: 3,
    before: [{ body: `${marker}\nplan A` }],
    body: `${marker}\nplan A`,
    action: "unchanged",
    calls: [["GET", NOTES("1217", 3)]],
    after: [`${marker}\nplan A`],
  },
  {
    name: "QuotedMarkerAndSystemNotesAreIgnored",
    iid: 4,
    before: [{ body: `> ${marker}\n> plan A` }, { body: `${marker}\nby the system`, system: true }],
    body: `${marker}\nplan B`,
    action: "created",
    calls: [["GET", NOTES("1217", 4)], ["POST", NOTES("1217", 4)]],
    after: [`> ${marker}\n> plan A`, `${marker}\nby the system`, `${marker}\nplan B`],
  },
  {
    name: "OtherRepositoryNoteIsLeftAlone",
    iid: 5,
    before: [{ body: `${planNoteMarker("other.example.org")}\nplan X` }],
    body: `${marker}\nplan B`,
    action: "created",
    calls: [["GET", NOTES("1217", 5)], ["POST", NOTES("1217", 5)]],
    after: [`${planNoteMarker("other.example.org")}\nplan X`, `${marker}\nplan B`],
  },
];

describe("upsertMergeRequestNote through @gitbeaker/rest", () => {
  for (const c of cases) {
    it(c.name, async () => {
      const stored = gitlab.notes("1217", c.iid);
      // Note ids: 1000 × iid + position, so expected paths can name them.
      c.before.forEach((n, i) => {
        stored.push({ id: 1000 * c.iid + i, body: n.body, system: n.system ?? false, author: { username: "someone" } });
      });
      const from = gitlab.calls.length;
      const api = createMergeRequestNotesApi({ url: gitlab.url, token: gitlab.token });
      const result = await upsertMergeRequestNote(api, { project: "1217", mergeRequestIid: c.iid, marker }, c.body);
      expect(result.action).toBe(c.action);
      const calls = gitlab.calls.slice(from);
      expect(calls.map((k) => [k.method, k.path])).toEqual(c.calls);
      expect(calls.every((k) => k.status < 300)).toBe(true);
      expect(calls[0]!.query).toMatchObject({ sort: "asc", order_by: "created_at" });
      for (const k of calls.slice(1)) expect(k.body).toMatchObject({ body: c.body });
      expect(stored.map((n) => n.body)).toEqual(c.after);
      expect(stored.find((n) => n.id === result.noteId)?.body).toBe(c.body);
    });
  }

  it("finds the marked note on a later page of a long discussion", async () => {
    const stored = gitlab.notes("group/proj", 9);
    for (let i = 0; i < 45; i++) stored.push({ id: 1000 + i, body: `comment ${i}`, system: false, author: { username: "u" } });
    stored.push({ id: 2000, body: `${marker}\nold`, system: false, author: { username: "bot" } });
    const from = gitlab.calls.length;
    const api = createMergeRequestNotesApi({ url: `${gitlab.url}/`, token: gitlab.token });
    const result = await upsertMergeRequestNote(api, { project: "group/proj", mergeRequestIid: 9, marker }, `${marker}\nnew`);
    expect(result).toEqual({ action: "updated", noteId: 2000 });
    const calls = gitlab.calls.slice(from);
    expect(calls.map((k) => `${k.method} ${k.query["page"] ?? "1"}`)).toEqual(["GET 1", "GET 2", "GET 3", "PUT 1"]);
    expect(calls[3]!.path).toBe(`${NOTES("group/proj", 9)}/2000`);
    expect(stored).toHaveLength(46);
  });

  it("turns API refusals into GitLabError with the status, and never posts on a failed list", async () => {
    const api = createMergeRequestNotesApi({ url: gitlab.url, token: "wrong" });
    const from = gitlab.calls.length;
    const err = await upsertMergeRequestNote(api, { project: "1217", mergeRequestIid: 1, marker }, `${marker}\nx`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GitLabError);
    expect((err as GitLabError).code).toBe("E_GITLAB");
    expect((err as Error).message).toMatch(/list notes of merge request !1 of project 1217: HTTP 401/);
    expect((err as Error).message).not.toContain("wrong");
    expect(gitlab.calls.slice(from).map((k) => k.method)).toEqual(["GET"]);

    gitlab.fail({ method: "POST", path: NOTES("1217", 6), status: 403 });
    const good = createMergeRequestNotesApi({ url: gitlab.url, token: gitlab.token });
    await expect(upsertMergeRequestNote(good, { project: "1217", mergeRequestIid: 6, marker }, `${marker}\nx`)).rejects.toThrow(/create note on merge request !6 of project 1217: HTTP 403/);
    expect(gitlab.notes("1217", 6)).toEqual([]);
  });

  it("refuses a body without its marker", async () => {
    const api = createMergeRequestNotesApi({ url: gitlab.url, token: gitlab.token });
    await expect(upsertMergeRequestNote(api, { project: "1", mergeRequestIid: 1, marker }, "no marker")).rejects.toThrow(GitLabError);
  });
});
