import { readFile, stat } from "node:fs/promises";
import { EventError } from "../errors.js";
import { displayText } from "../human-format.js";
import { parseRegistryEvent, type RegistryEvent } from "./registry-event.js";

/** Largest notification read: registries send a few KiB; anything far bigger is not one of theirs. */
const MAX_EVENT_BYTES = 4 * 1024 * 1024;

/**
 * Reads the notification in `file` (what GitLab's `TRIGGER_PAYLOAD` file variable names) and
 * parses it. EventError (exit 2) when no file is named (an empty `TRIGGER_PAYLOAD`), when it
 * cannot be read or is larger than 4 MiB, and for everything `parseRegistryEvent` refuses.
 */
export async function readRegistryEvent(file: string): Promise<RegistryEvent> {
  const name = displayText(file, { maxLength: 200 });
  if (file.trim() === "") {
    throw new EventError("--event names no file (is TRIGGER_PAYLOAD empty? A pipeline gets it only when a webhook triggered it)");
  }
  let text: string;
  try {
    const { size } = await stat(file);
    if (size > MAX_EVENT_BYTES) throw new EventError(`${name}: ${size} bytes, more than a registry notification (at most ${MAX_EVENT_BYTES})`);
    text = await readFile(file, "utf8");
  } catch (err) {
    if (err instanceof EventError) throw err;
    throw new EventError(`read registry event ${name}: ${displayText((err as Error).message, { maxLength: 300 })}`, { cause: err });
  }
  return parseRegistryEvent(text, file);
}
