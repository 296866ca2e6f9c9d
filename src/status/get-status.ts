import type { RepositoryReader } from "../cvmfs/repository/repository-reader.js";
import { ConfigError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { RepositoryLayout } from "../published/layout.js";
import { publishedTreeSource } from "../published/published-source.js";
import { readPublishedState } from "../published/published-state.js";
import { assembleStatus } from "./assemble-status.js";
import { readPreviousStatus } from "./read-previous.js";
import { readRunReport } from "./run-report-file.js";
import type { StatusJson } from "./status-json.js";
import { measureStorage } from "./storage-figures.js";

/** Where the status model is read from, and how. */
export interface GetStatusOptions {
  reader: RepositoryReader;
  /** Repository fqrn (the reader checked the manifest names it). */
  repository: string;
  layout: RepositoryLayout;
  /** Files `sync --report` wrote (one per shard). */
  reportFiles: readonly string[];
  /** A previous status.json: file or http(s) URL. */
  previous?: string;
  /** Read every catalog to measure stored bytes and dedup (see measureStorage). */
  measureStorage: boolean;
  concurrency: number;
  logger: Logger;
  signal?: AbortSignal;
  now?: Date;
}

/**
 * Read everything the page shows, then assemble the model: the published state (through the
 * published-state index), the manifest's revision and time, the storage figures, the run reports
 * and the previous status. Throws ConfigError for a report that cannot be read or that is about
 * another repository; a previous status that cannot be used only warns.
 */
export async function getStatus(opts: GetStatusOptions): Promise<StatusJson> {
  const { reader, logger } = opts;
  const [state, storage, reports, previous] = await Promise.all([
    readPublishedState(publishedTreeSource(reader), opts.layout, { concurrency: opts.concurrency }),
    opts.measureStorage ? measureStorage(reader, { concurrency: opts.concurrency, logger, ...(opts.signal ? { signal: opts.signal } : {}) }) : undefined,
    Promise.all(opts.reportFiles.map((file) => readRunReport(file))),
    opts.previous !== undefined ? readPreviousStatus(opts.previous, { logger, ...(opts.signal ? { signal: opts.signal } : {}) }) : undefined,
  ]);
  reports.forEach((report, i) => {
    if (report.repository !== opts.repository) {
      throw new ConfigError(`run report ${opts.reportFiles[i]} is about ${report.repository}, not ${opts.repository}`);
    }
  });
  const published = reader.manifest.publishTimestamp;
  return assembleStatus({
    repository: opts.repository,
    layout: opts.layout,
    state,
    revision: reader.manifest.revision,
    ...(published !== undefined ? { publishedAt: new Date(published * 1000) } : {}),
    ...(storage ? { storage } : {}),
    reports,
    ...(previous ? { previous } : {}),
    now: opts.now ?? new Date(),
  });
}
