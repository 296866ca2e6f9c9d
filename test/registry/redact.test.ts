import { describe, expect, it } from "vitest";
import { redactUrl } from "../../src/registry/redact.js";

describe("redactUrl", () => {
  it.each([
    ["https://user:pw@s3.example/bucket/blob?X-Amz-Signature=abc#f", "https://s3.example/bucket/blob"],
    ["http://127.0.0.1:5000/v2/a/b/manifests/1", "http://127.0.0.1:5000/v2/a/b/manifests/1"],
    ["not a url", "<url>"],
  ])("%s → %s", (input, expected) => {
    expect(redactUrl(input)).toBe(expected);
  });
});
