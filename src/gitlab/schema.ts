import { z } from "zod";

/**
 * Wire shapes this module reads: the plan JSON that `plan --format json` prints
 * (`planToJson` in src/sync/plan-format.ts, version 1) and the GitLab REST API's note objects
 * (https://docs.gitlab.com/api/notes/). Only the fields used are listed; unknown fields are
 * dropped, so a plan with more fields still renders.
 */

const TagAction = z.enum(["add", "update", "keep", "remove"]);

/** One public name of the plan. */
export const PlanJsonTag = z.object({
  action: TagAction,
  publicPath: z.string(),
  reference: z.string().optional(),
  file: z.string().optional(),
  line: z.number().int().optional(),
  manifestDigest: z.string().optional(),
  previousManifestDigest: z.string().optional(),
  /** For a per-architecture name: the platform it stands for. */
  arch: z.string().optional(),
  /** The digest of that platform's own manifest, when the plan knows it. */
  platformManifestDigest: z.string().optional(),
  /** What converting that platform's manifest downloads (compressed config and layers). */
  compressedBytes: z.number().optional(),
  /** Why the name is not published: its index lacks the platform. */
  platformNote: z.string().optional(),
  convert: z.boolean().optional(),
  retained: z.boolean().optional(),
  otherOwners: z.array(z.string()).optional(),
  bytes: z.number().optional(),
  /** The formats beyond the sandbox the name's image has, and those the sync adds (`--formats`). */
  formats: z.object({ have: z.array(z.string()), add: z.array(z.string()) }).optional(),
});
export type PlanJsonTag = z.infer<typeof PlanJsonTag>;

/** An image directory left without a name. */
export const PlanJsonImageRemoval = z.object({
  imageDir: z.string(),
  due: z.boolean(),
  removeAfter: z.string().optional(),
  lastNames: z.array(z.string()).default([]),
  bytes: z.number().optional(),
});
export type PlanJsonImageRemoval = z.infer<typeof PlanJsonImageRemoval>;

/** `plan --format json` output (planToJson). */
export const PlanJson = z.object({
  version: z.literal(1),
  layout: z.string(),
  summary: z.object({
    add: z.number(),
    update: z.number(),
    keep: z.number(),
    remove: z.number(),
    others: z.number().default(0),
    convert: z.number(),
    removeImages: z.number(),
    waiting: z.number(),
    addFormats: z.number().optional(),
  }),
  tags: z.array(PlanJsonTag),
  imageRemovals: z.array(PlanJsonImageRemoval).default([]),
});
export type PlanJson = z.infer<typeof PlanJson>;

/** A merge-request note as GET/POST/PUT .../merge_requests/:iid/notes return it. */
export const GitLabNote = z.object({
  id: z.number().int(),
  body: z.string(),
  system: z.boolean().optional(),
});
export type GitLabNote = z.infer<typeof GitLabNote>;
