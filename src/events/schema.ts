/**
 * Wire schemas of the registry notifications `sync --event` reads, one per format, listing only
 * the fields the tool uses. Every value is a claim of whoever could reach the trigger URL: these
 * schemas check shapes, never truth (the tag is resolved again; the digest is not even kept).
 * Unknown fields pass: GitLab mixes its own `id`, `ref` and `variables` into the body it hands on.
 */
import { z } from "zod";

/** One artifact of a Harbor event: `tag` is the digest itself when the push named no tag. */
const HarborResource = z.object({
  tag: z.string().optional(),
  /** `host[:port]/project/repo:tag`: the only field that names the registry's host. */
  resource_url: z.string(),
});


/**
 * Harbor's "Default" webhook payload (goharbor.io/docs, "Configure Webhook Notifications"):
 * `{ type: "PUSH_ARTIFACT", occur_at, operator, event_data: { resources[], repository } }`.
 * `event_data` is checked only for a push: other event types carry other data.
 */
export const HarborEvent = z.object({
  type: z.string(),
  event_data: z.unknown(),
});
export type HarborEvent = z.infer<typeof HarborEvent>;

/** The `event_data` of a Harbor push, also the `data` of its CloudEvents form. */
export const HarborPushData = z.object({
  resources: z.array(HarborResource),
  repository: z.object({ repo_full_name: z.string() }),
});
export type HarborPushData = z.infer<typeof HarborPushData>;

/**
 * Harbor's "CloudEvents" payload (CloudEvents 1.0, structured JSON): `specversion`, `type`
 * (`harbor.artifact.pushed`, …), `data` as the default format's `event_data`. Its `id` is not
 * read: GitLab overwrites a body's `id` with the project's.
 */
export const HarborCloudEvent = z.object({
  specversion: z.string(),
  type: z.string(),
  data: z.unknown(),
});
export type HarborCloudEvent = z.infer<typeof HarborCloudEvent>;

/**
 * The CNCF distribution registry's notification envelope (distribution docs, "Notifications",
 * `application/vnd.docker.distribution.events.v1+json`): one event per blob and per manifest.
 * `request.host` is the Host the client pushed to: the registry's name as clients write it.
 */
export const DistributionEnvelope = z.object({
  events: z.array(
    z.object({
      action: z.string(),
      target: z
        .object({
          mediaType: z.string().optional(),
          repository: z.string().optional(),
          tag: z.string().optional(),
        })
        .optional(),
      request: z.object({ host: z.string().optional() }).optional(),
    }),
  ),
});
export type DistributionEnvelope = z.infer<typeof DistributionEnvelope>;

/**
 * Docker Hub's webhook payload (docs.docker.com, "Webhooks"): `push_data.tag` and
 * `repository.repo_name` (`namespace/name`). Docker Hub sends it for pushes only.
 */
export const DockerHubEvent = z.object({
  push_data: z.object({ tag: z.string() }),
  repository: z.object({ repo_name: z.string() }),
});
export type DockerHubEvent = z.infer<typeof DockerHubEvent>;

/**
 * Quay's "Repository Push" notification (Quay docs, "Repository notifications"): `docker_url`
 * (`quay.io/namespace/name`, the host included) and `updated_tags[]`. Quay's build notifications
 * carry `docker_url` without `updated_tags`.
 */
export const QuayEvent = z.object({
  docker_url: z.string(),
  updated_tags: z.array(z.string()).optional(),
});
export type QuayEvent = z.infer<typeof QuayEvent>;

/**
 * GitHub's `package` webhook event (docs.github.com, "Webhook events and payloads", package):
 * `action` published or updated, `package.package_type` container for ghcr.io images,
 * `package.package_version.container_metadata.tag.name` the tag pushed.
 */
export const GitHubPackageEvent = z.object({
  action: z.string(),
  package: z.object({
    name: z.string(),
    namespace: z.string().optional(),
    owner: z.object({ login: z.string() }).optional(),
    package_type: z.string(),
    package_version: z
      .object({
        container_metadata: z
          .object({ tag: z.object({ name: z.string() }).nullish() })
          .nullish(),
      })
      .nullish(),
    registry: z.object({ url: z.string() }).nullish(),
  }),
});
export type GitHubPackageEvent = z.infer<typeof GitHubPackageEvent>;
