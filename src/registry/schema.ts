/**
 * Wire schemas of the registry client: everything read from a registry, a token server or a
 * docker config.json is parsed here, once. Only the fields we use are listed; unknown fields of
 * configs are kept so consumers see the whole image configuration.
 */
import { z } from "zod";

/** image-spec descriptor.md, with platform (image-index.md). */
export const Platform = z.object({
  os: z.string(),
  architecture: z.string(),
  variant: z.string().optional(),
});
export type Platform = z.infer<typeof Platform>;

export const Descriptor = z.object({
  mediaType: z.string(),
  digest: z.string().regex(/^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/),
  size: z.number().int().nonnegative(),
  urls: z.array(z.string()).optional(),
  platform: Platform.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type Descriptor = z.infer<typeof Descriptor>;

/** image-spec manifest.md and Docker image manifest v2 schema 2 (same shape). */
export const ImageManifest = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: Descriptor,
  layers: z.array(Descriptor),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type ImageManifest = z.infer<typeof ImageManifest>;

/** image-spec image-index.md and Docker manifest list. */
export const ImageIndex = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(Descriptor),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type ImageIndex = z.infer<typeof ImageIndex>;

/** image-spec config.md: the fields the tool reads; the rest is kept as it came. */
export const ImageConfig = z.looseObject({
  architecture: z.string().optional(),
  os: z.string().optional(),
  variant: z.string().optional(),
  created: z.string().optional(),
  config: z
    .looseObject({
      User: z.string().optional(),
      Env: z.array(z.string()).nullish().transform((v) => v ?? undefined),
      Entrypoint: z.array(z.string()).nullish(),
      Cmd: z.array(z.string()).nullish(),
      WorkingDir: z.string().optional(),
      Labels: z.record(z.string(), z.string()).nullish(),
    })
    .nullish()
    .transform((v) => v ?? undefined),
  rootfs: z.object({ type: z.string(), diff_ids: z.array(z.string()) }).optional(),
  history: z.array(z.unknown()).optional(),
});

/** distribution docs/spec/auth/token.md: GET token response (and the OAuth2 POST one). */
export const TokenResponse = z.object({
  token: z.string().optional(),
  access_token: z.string().optional(),
  expires_in: z.number().optional(),
  issued_at: z.string().optional(),
  refresh_token: z.string().optional(),
});
export type TokenResponse = z.infer<typeof TokenResponse>;

/** distribution-spec "Error Codes": `{ errors: [{ code, message, detail }] }`. */
export const ErrorBody = z.object({
  errors: z.array(z.object({ code: z.string(), message: z.string().optional() })),
});

/** distribution-spec "Listing Tags". */
export const TagList = z.object({
  name: z.string(),
  tags: z.array(z.string()).nullable(),
});

/**
 * docker config.json, the credential part (docker/cli configfile): stored `auths`, the default
 * helper `credsStore` and per-registry helpers `credHelpers` (both name `docker-credential-<suffix>`).
 */
export const DockerConfigFile = z.object({
  credsStore: z.string().optional(),
  credHelpers: z.record(z.string(), z.string()).optional(),
  auths: z
    .record(
      z.string(),
      z.object({
        auth: z.string().optional(),
        username: z.string().optional(),
        password: z.string().optional(),
        identitytoken: z.string().optional(),
      }),
    )
    .optional(),
});
export type DockerConfigFile = z.infer<typeof DockerConfigFile>;

/** What `docker-credential-<suffix> get` prints (docker-credential-helpers `Credentials`). */
export const CredentialHelperAnswer = z.object({
  ServerURL: z.string().optional(),
  Username: z.string().optional().default(""),
  Secret: z.string().optional().default(""),
});
export type CredentialHelperAnswer = z.infer<typeof CredentialHelperAnswer>;
