/**
 * Fails when a folder under src/ grows past 20 modules or 2,500 lines (a room that size holds more
 * than one concern and should be split by what its files do; see the README's architecture), or
 * when a module sits loose in a folder that only groups rooms.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

const MAX_FILES = 20;
const MAX_LINES = 2500;
/** Folders that only group rooms: each concern is a subfolder, so no module sits loose beside them. */
const GROUPS = new Set(["cvmfs"]);
const root = join(import.meta.dirname, "../../src");

function check(dir: string): string[] {
  const entries = readdirSync(dir, { withFileTypes: true });
  const modules = entries.filter((e) => e.isFile() && e.name.endsWith(".ts"));
  const lines = modules.reduce((sum, e) => sum + readFileSync(join(dir, e.name), "utf8").split("\n").length - 1, 0);
  const name = relative(join(root, ".."), dir);
  const problems: string[] = [];
  if (modules.length > MAX_FILES) problems.push(`${name}: ${modules.length} modules (at most ${MAX_FILES})`);
  if (lines > MAX_LINES) problems.push(`${name}: ${lines} lines (at most ${MAX_LINES})`);
  const loose = modules.filter((e) => e.name !== "index.ts");
  if (GROUPS.has(relative(root, dir)) && loose.length > 0) {
    problems.push(`${name}: ${loose.map((e) => e.name).join(", ")} outside its rooms (${[...GROUPS].join(", ")} holds only folders and an index.ts)`);
  }
  for (const e of entries) if (e.isDirectory()) problems.push(...check(join(dir, e.name)));
  return problems;
}

const problems = check(root);
for (const p of problems) console.error(`room rule: ${p}; split it by concern`);
process.exitCode = problems.length > 0 ? 1 : 0;
