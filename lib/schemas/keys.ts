import { z } from "zod";
import { SCOPES, scopeOrShortcutSchema } from "../scopes";
import { futureExample, nonBlank, pageQuery, timestamp } from "./common";

/** Always ahead of when the document was built: the first of January two years on. */
const FUTURE_EXAMPLE = futureExample();

export const createKeyBody = z
  .strictObject({
    name: nonBlank(100).meta({ description: "A label to tell keys apart", example: "ci-deploy" }),
    scopes: z
      .array(scopeOrShortcutSchema)
      .min(1, "Give at least one scope.")
      .max(32)
      .meta({ description: "Scopes, or the shortcuts `read`, `write`, `all`. A key can only grant scopes it holds itself." }),
    expires_at: timestamp
      .meta({ example: FUTURE_EXAMPLE })
      .nullable()
      .optional()
      .meta({ description: "When the key stops working, in the future; omitted or null: never" }),
  })
  .meta({ id: "CreateKeyRequest" });

export const apiKeyResource = z
  .object({
    id: z.string().meta({ example: "key_01jd3z6v7a8b9c0d1e2f3g4h5j" }),
    name: z.string(),
    prefix: z.string().meta({ description: "The public part of the token, `moc_<short>`", example: "moc_a1B2c3D4" }),
    scopes: z.array(z.enum(SCOPES)),
    created_at: timestamp,
    expires_at: timestamp.nullable(),
    last_used_at: timestamp.nullable().meta({ description: "Last use, to the minute" }),
  })
  .meta({ id: "ApiKey" });

export const createdApiKeyResource = apiKeyResource
  .extend({ token: z.string().meta({ description: "The full token. Shown this once: store it now.", example: "moc_a1B2c3D4_..." }) })
  .meta({ id: "CreatedApiKey" });

export const listKeysQuery = pageQuery("key");

export type CreateKeyInput = z.output<typeof createKeyBody>;
export type ApiKeyResource = z.output<typeof apiKeyResource>;
