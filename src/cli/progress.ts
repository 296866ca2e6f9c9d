import cliProgress from "cli-progress";
import type { LogEvent, Logger } from "../logger.js";
import { forTerminal } from "./log-output.js";
import { formatBytes } from "../human-format.js";

/**
 * The terminal progress display: one line per image in flight — its stage (resolving, layers x/y
 * with bytes, publishing) — redrawn in place, with warnings and errors printed above the bars.
 * It is a Logger: it reads the same events the JSON log carries, so the library needs no
 * separate progress API. Used only when stderr is a terminal and the log format is text.
 */
interface ImageLine {
  bar: cliProgress.SingleBar;
  layersTotal: number;
  layersDone: Set<string>;
  layerBytes: Map<string, { done: number; total: number }>;
  stage: string;
}

export class ProgressDisplay implements Logger {
  private readonly bars: cliProgress.MultiBar;
  private readonly images = new Map<string, ImageLine>();
  private stopped = false;

  constructor(private readonly stream: NodeJS.WriteStream) {
    this.bars = new cliProgress.MultiBar(
      {
        stream,
        format: " {bar} {percentage}% | {image} | {stage}",
        barsize: 20,
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        fps: 8,
        autopadding: true,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  log(e: LogEvent): void {
    if (this.stopped) {
      if (e.level !== "debug" && !e.event.endsWith(".progress")) this.stream.write(forTerminal(`${e.level === "info" ? "" : `${e.level}: `}${e.message}\n`));
      return;
    }
    const f = e.fields ?? {};
    const image = typeof f["image"] === "string" ? f["image"] : undefined;
    if (e.level === "warn" || e.level === "error") {
      this.bars.log(forTerminal(`${e.level}: ${e.message}\n`));
    }
    if (!image) {
      if (e.level === "info" && !e.event.endsWith(".progress")) this.bars.log(forTerminal(`${e.message}\n`));
      return;
    }
    const line = this.line(image);
    switch (e.event) {
      case "image.resolve":
        this.update(line, image, "resolving");
        break;
      case "image.layers":
        line.layersTotal = Number(f["layers"] ?? 0);
        this.update(line, image, `layers 0/${line.layersTotal}`);
        break;
      case "layer.progress":
      case "layer.start": {
        const layer = String(f["layer"] ?? "");
        const total = Number(f["total"] ?? f["size"] ?? 0);
        const done = Number(f["bytes"] ?? 0);
        line.layerBytes.set(layer, { done, total });
        this.update(line, image, this.layerStage(line));
        break;
      }
      case "layer.done": {
        const layer = String(f["layer"] ?? "");
        line.layersDone.add(layer);
        const entry = line.layerBytes.get(layer);
        if (entry) entry.done = entry.total;
        this.update(line, image, this.layerStage(line));
        break;
      }
      case "image.catalog":
        this.update(line, image, "writing catalogs");
        break;
      case "image.publish":
        this.update(line, image, "publishing");
        break;
      case "image.done":
        line.bar.update(line.bar.getTotal(), { image, stage: "done" });
        break;
      case "image.failed":
        this.update(line, image, `failed: ${String(f["code"] ?? "")}`);
        break;
      default:
        break;
    }
  }

  /** Draws the bars a last time and leaves them; later events print as plain lines. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.bars.stop();
  }

  private line(image: string): ImageLine {
    let line = this.images.get(image);
    if (!line) {
      const bar = this.bars.create(1000, 0, { image, stage: "queued" });
      line = { bar, layersTotal: 0, layersDone: new Set(), layerBytes: new Map(), stage: "queued" };
      this.images.set(image, line);
    }
    return line;
  }

  private layerStage(line: ImageLine): string {
    let done = 0;
    let total = 0;
    for (const b of line.layerBytes.values()) {
      done += b.done;
      total += b.total;
    }
    const count = line.layersTotal || line.layerBytes.size;
    return `layers ${line.layersDone.size}/${count} ${formatBytes(done)}/${formatBytes(total)}`;
  }

  private update(line: ImageLine, image: string, stage: string): void {
    line.stage = stage;
    let done = 0;
    let total = 0;
    for (const b of line.layerBytes.values()) {
      done += b.done;
      total += b.total;
    }
    // Downloads are ~80 % of the bar; catalogs and publishing the rest.
    const fraction = stage === "publishing" ? 0.9 : stage === "writing catalogs" ? 0.8 : total > 0 ? (0.8 * done) / total : 0;
    line.bar.update(Math.round(fraction * 1000), { image, stage });
  }
}
