import { describe, expect, it } from "vitest";
import { MAX_NOTE_ROWS, planNoteMarker, renderPlanNote } from "../../src/gitlab/plan-note.js";
import { PlanJson } from "../../src/gitlab/schema.js";
import { planToJson } from "../../src/sync/plan-format.js";
import type { Plan } from "../../src/sync/plan.js";
import { keepOnlyPlan, samplePlan } from "./plan-fixture.js";

describe("renderPlanNote", () => {
  it("starts with the hidden marker and lists changes before unchanged names", () => {
    const body = renderPlanNote(samplePlan(), { repo: "images.example.org", pipelineUrl: "https://gl.example/p/1", commitSha: "0123456789abcdef" });
    const lines = body.split("\n");
    expect(lines[0]).toBe("<!-- cvmfs-image-sync:plan images.example.org -->");
    expect(lines[0]).toBe(planNoteMarker("images.example.org"));
    const rows = lines.filter((l) => l.startsWith("| `"));
    expect(rows).toEqual([
      "| `127.0.0.1:5000/ns/app:1` <sub>images.txt:2</sub> | add (convert) | `sha256:bbbbbbbbbbbb` | new |",
      "| `127.0.0.1:5000/ns/tool:latest` <sub>more.txt:4</sub> | update (convert) | `sha256:ffffffffffff` → `sha256:eeeeeeeeeeee` | new |",
      "| `127.0.0.1:5000/ns/old:1` | remove | `sha256:cccccccccccc` |  |",
      "| `docker.io/library/alpine:3` <sub>images.txt:1</sub> | keep | `sha256:aaaaaaaaaaaa` | 1.5 KiB |",
      "| `/.images/cc/cccc` | after 2026-12-01T00:00:00.000Z | 2.0 MiB | `/ns/old:1` |",
    ]);
    expect(body).toContain("<details><summary>1 unchanged</summary>");
    expect(body).toContain("**1 to add, 1 to update, 1 to remove, 1 unchanged**; 2 image(s) to convert, 0 image(s) to delete, 1 waiting for their removal date.");
    expect(body).toContain("([pipeline](https://gl.example/p/1), commit 0123456789ab)");
  });

  it("says so when nothing changes, and caps long tables", () => {
    const body = renderPlanNote(keepOnlyPlan(MAX_NOTE_ROWS + 3), { repo: "images.local" });
    expect(body).toContain("No image changes: the repository already matches the wishlist.");
    expect(body.split("\n").filter((l) => l.startsWith("| `r.example/"))).toHaveLength(MAX_NOTE_ROWS);
    expect(body).toContain("… and 3 more.");
  });

  it("with --formats, a column says what each image has and, in bold, what the sync adds", () => {
    const plan = samplePlan();
    plan.tags = plan.tags.map((t) =>
      t.action === "keep" ? { ...t, formats: { have: ["podman"], add: ["layers"] } } : t.action === "remove" ? t : { ...t, formats: { have: [], add: ["podman", "layers"] } },
    );
    plan.summary = { ...plan.summary, addFormats: 1 };
    const body = renderPlanNote(plan, { repo: "images.local" });
    expect(body).toContain("| Image | Action | Digest | Size | Formats |");
    const rows = body.split("\n").filter((l) => l.startsWith("| `") && !l.startsWith("| `/.images"));
    expect(rows.map((r) => r.split(" | ").at(-1))).toEqual(["sandbox, **+podman**, **+layers** |", "sandbox, **+podman**, **+layers** |", " |", "sandbox, podman, **+layers** |"]);
    expect(body).toContain("1 waiting for their removal date; 1 published image(s) get formats they lack.");
    // Read back from JSON, as `mr-note` reads a plan file: the schema keeps the formats.
    expect(renderPlanNote(PlanJson.parse(JSON.parse(JSON.stringify(plan))), { repo: "images.local" })).toBe(body);
  });

  it("escapes pipes and newlines that would break the table", () => {
    const plan = keepOnlyPlan(1);
    plan.tags[0]!.reference = "weird|ref\nx";
    const row = renderPlanNote(plan, { repo: "images.local" }).split("\n").find((l) => l.startsWith("| `weird"));
    expect(row).toBe("| `weird\\|ref x` | keep | `sha256:111111111111` | 10 B |");
  });

  it("reads what planToJson writes", () => {
    const plan: Plan = {
      layout: "osg",
      tags: [{ action: "add", publicPath: "/ns/a:1", reference: "h/ns/a:1", file: "images.txt", line: 3, manifestDigest: `sha256:${"9".repeat(64)}`, convert: true }],
      conversions: [{ manifestDigest: `sha256:${"9".repeat(64)}`, references: ["h/ns/a:1"], publicPaths: ["/ns/a:1"] }],
      imageRemovals: [],
      schedule: { version: 1, images: {} } as unknown as Plan["schedule"],
      owners: new Map(),
      summary: { add: 1, update: 0, keep: 0, remove: 0, others: 0, convert: 1, removeImages: 0, waiting: 0 },
    };
    const parsed = PlanJson.parse(JSON.parse(JSON.stringify(planToJson(plan))));
    expect(parsed.tags[0]).toMatchObject({ action: "add", publicPath: "/ns/a:1", line: 3 });
    expect(renderPlanNote(parsed, { repo: "images.local" })).toContain("| `h/ns/a:1` <sub>images.txt:3</sub> | add (convert) | `sha256:999999999999` | new |");
  });
});
