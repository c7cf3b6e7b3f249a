import { z } from "zod";
import { text, timestamp } from "./common";

/** A version tag as the API takes it; whether it is offered is the service's to say (unsupported_version). */
export const versionField = text()
  .min(1)
  .max(128)
  .meta({ description: "An OpenClaw version from GET /api/v1/versions (not deprecated)", example: "2026.11.20" });

export const versionResource = z
  .object({
    version: z.string().meta({ description: "The OpenClaw release tag", example: "2026.11.20" }),
    image: z.string().meta({ description: "The container image its machines run, pinned by tag or digest", example: "ghcr.io/openclaw/openclaw:2026.11.20" }),
    released_at: timestamp.meta({ description: "Orders versions: a later one is an upgrade" }),
    default: z.boolean().meta({ description: "New instances get this version when they name none (exactly one is the default)" }),
    deprecated: z.boolean().meta({ description: "Instances on it keep running it, but nothing new may move to it" }),
  })
  .meta({ id: "Version" });

export type VersionResource = z.output<typeof versionResource>;
