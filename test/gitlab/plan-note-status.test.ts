/** The plan note's link to the status page: there when a status URL is known, absent otherwise. */
import { describe, expect, it } from "vitest";
import { renderPlanNote } from "../../src/gitlab/plan-note.js";
import { samplePlan } from "./plan-fixture.js";

describe("renderPlanNote and the status page", () => {
  it("links the status page as the note's last line", () => {
    const body = renderPlanNote(samplePlan(), { repo: "images.example.org", statusUrl: "https://sites.pages.example.org/images/" });
    expect(body.trimEnd().split("\n").at(-1)).toBe("What is published now, and what fails: [status page](https://sites.pages.example.org/images/).");
  });

  it("keeps a URL from breaking out of the link", () => {
    const body = renderPlanNote(samplePlan(), { repo: "images.example.org", statusUrl: "https://x.example/a b)(<c>|d" });
    expect(body).toContain("[status page](https://x.example/a%20b%29%28%3Cc%3E%7Cd)");
  });

  it("says nothing of a status page without one", () => {
    expect(renderPlanNote(samplePlan(), { repo: "images.example.org" })).not.toContain("status page");
  });
});
