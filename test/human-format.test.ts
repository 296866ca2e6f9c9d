import { describe, expect, it } from "vitest";
import { displayText } from "../src/human-format.js";

describe("displayText", () => {
  it.each([
    ["docker.io/library/centos:7", "docker.io/library/centos:7"],
    ["bad\x1b[2K\r\x1b[32mall lines OK\x1b[0m", "bad\\x1b[2K\\x0d\\x1b[32mall lines OK\\x1b[0m"],
    ["nul\x00tab\tdel\x7f", "nul\\x00tab\\x09del\\x7f"],
    ["csi\u009b31m rtl\u202eevil\u2066", "csi\\u009b31m rtl\\u202eevil\\u2066"],
    ["two\nlines", "two\\x0alines"],
    ["ünïcödé ✓ stays", "ünïcödé ✓ stays"],
  ])("shows %j as %j", (input, shown) => {
    expect(displayText(input)).toBe(shown);
  });

  it("shortens long text and says how long it was", () => {
    const line = "a".repeat(10_000);
    const shown = displayText(line);
    expect(shown).toBe(`${"a".repeat(120)}… (10000 characters)`);
    expect(displayText(line, { maxLength: 10 })).toBe("aaaaaaaaaa… (10000 characters)");
    expect(displayText("short", { maxLength: 10 })).toBe("short");
  });

  it("keeps line feeds when asked, and escaping twice changes nothing", () => {
    expect(displayText("a\nb\x1bc", { keepNewlines: true })).toBe("a\nb\\x1bc");
    const once = displayText("x\x1b[1A\ry");
    expect(displayText(once)).toBe(once);
    expect(displayText(once)).not.toMatch(/[\x00-\x1f\x7f]/);
  });
});
