import { constants } from "node:fs";
import { access, rename, rm, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { ConfigError, describeError, errorCode } from "../errors.js";
import type { Logger } from "../logger.js";
import { readJsonFile } from "../json-file.js";
import { assembleRunReport, RunReport, type RunRecord } from "./run-report.js";

/**
 * Write a run report: pretty JSON, checked against its schema, written beside `file` and renamed
 * over it, so a reader (the status job collecting shards' artifacts) never sees half a report.
 */
export async function writeRunReport(file: string, report: RunReport): Promise<void> {
  const bytes = `${JSON.stringify(RunReport.parse(report), null, 2)}\n`;
  const partial = `${file}.${process.pid}.partial`;
  try {
    await writeFile(partial, bytes);
    await rename(partial, file);
  } catch (cause) {
    await rm(partial, { force: true });
    throw new ConfigError(`write run report ${file}: ${(cause as Error).message}`, { cause });
  }
}

/**
 * Read a report `sync --report` wrote. Throws ConfigError naming the file and the first field
 * that is wrong: a report given on the command line that cannot be read is a mistake to fix.
 */
export function readRunReport(file: string): Promise<RunReport> {
  return readJsonFile(RunReport, file, { what: "run report", noun: "a run report", writtenBy: "sync --report FILE" });
}

/**
 * Run `work` (a sync) and, when `file` is given, write its run report however it ends: the
 * report of a run that threw carries the error, then the error goes on. The file's directory is
 * checked first, so a report that could not be written fails the run before it publishes
 * anything (exit 2); a report that fails to be written after a run that published is logged and
 * makes the exit code at least 1, never hides the run's own result.
 */
export async function withRunReport(file: string | undefined, record: RunRecord, logger: Logger, work: () => Promise<number>): Promise<number> {
  if (!file) return work();
  try {
    await access(dirname(resolve(file)), constants.W_OK);
  } catch (cause) {
    throw new ConfigError(`--report ${file}: cannot write in ${dirname(resolve(file))} (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { cause });
  }
  let code: number;
  try {
    code = await work();
  } catch (err) {
    await writeRunReport(file, assembleRunReport(record, new Date(), err)).catch((failure: unknown) => reportFailed(logger, file, failure));
    throw err;
  }
  try {
    await writeRunReport(file, assembleRunReport(record, new Date()));
  } catch (failure) {
    reportFailed(logger, file, failure);
    return Math.max(code, 1);
  }
  return code;
}

function reportFailed(logger: Logger, file: string, failure: unknown): void {
  logger.log({ level: "error", event: "sync.report-failed", message: `run report ${file} not written: ${describeError(failure)}`, fields: { file, code: errorCode(failure) } });
}
