import { z } from "zod";

/**
 * Wire shapes of the gateway API (cvmfs-formats.md §5.1, §8), both as the client reads replies
 * and as the dev gateway reads requests. Only the fields used are listed. Replies come as
 * `text/plain` JSON; numbers the gateway parses with `Atoi` are strings on the wire.
 */

const ErrorReply = z.object({ status: z.literal("error"), reason: z.string().default("") });

/** POST /leases body. */
export const LeaseRequest = z.object({
  path: z.string(),
  api_version: z.string().regex(/^\d+$/),
  hostname: z.string().optional(),
});
export type LeaseRequest = z.infer<typeof LeaseRequest>;

/** POST /leases reply. */
export const LeaseReply = z.discriminatedUnion("status", [
  z.object({ status: z.literal("ok"), session_token: z.string().min(1), max_api_version: z.union([z.number(), z.string()]).optional() }),
  z.object({ status: z.literal("path_busy"), time_remaining: z.union([z.string(), z.number()]).optional() }),
  ErrorReply,
]);
export type LeaseReply = z.infer<typeof LeaseReply>;

/** POST /leases/<token> (commit) body. */
export const CommitRequest = z.object({
  old_root_hash: z.string(),
  new_root_hash: z.string(),
  tag_name: z.string().optional(),
  tag_description: z.string().optional(),
  tag_channel: z.number().optional(),
});
export type CommitRequest = z.infer<typeof CommitRequest>;

/** Commit reply: only the revision, the root hash must be read from the manifest (§8.6). */
export const CommitReply = z.discriminatedUnion("status", [
  z.object({ status: z.literal("ok"), final_revision: z.number().int() }),
  ErrorReply,
]);
export type CommitReply = z.infer<typeof CommitReply>;

/** Payload, drop and other replies that carry nothing but the status. */
export const StatusReply = z.discriminatedUnion("status", [z.object({ status: z.literal("ok") }), ErrorReply]);
export type StatusReply = z.infer<typeof StatusReply>;

/** The JSON message at the head of a payload body; `session_token` only on legacy `/payloads`. */
export const PayloadMessage = z.object({
  session_token: z.string().optional(),
  payload_digest: z.string().regex(/^[0-9a-f]{40}$/),
  header_size: z.string().regex(/^\d+$/),
  api_version: z.string().regex(/^\d+$/),
});
export type PayloadMessage = z.infer<typeof PayloadMessage>;

/** One lease in GET /leases and GET /leases/<token>. */
export const LeaseInfo = z.object({
  key_id: z.string(),
  path: z.string(),
  expires: z.string(),
  hostname: z.string().optional(),
});
export type LeaseInfo = z.infer<typeof LeaseInfo>;

/** Gateway access configuration `repo.json`, version 2 (§5.2, §8.10). */
export const AccessConfigFile = z.object({
  version: z.literal(2),
  repos: z.array(
    z.object({
      domain: z.string(),
      keys: z.array(z.object({ id: z.string(), path: z.string().default("/"), admin: z.boolean().optional() })).default([]),
    }),
  ),
  keys: z
    .array(
      z.discriminatedUnion("type", [
        z.object({ type: z.literal("plain_text"), id: z.string(), secret: z.string(), admin: z.boolean().optional() }),
        z.object({ type: z.literal("file"), file_name: z.string(), admin: z.boolean().optional() }),
      ]),
    )
    .default([]),
});
export type AccessConfigFile = z.infer<typeof AccessConfigFile>;
