import { z } from "zod";
import { PLAN_NAMES } from "../plans";

export const accountResource = z
  .object({
    id: z.string().meta({ example: "usr_01jd3z6v7a8b9c0d1e2f3g4h5j" }),
    email: z.string(),
    plan: z.enum(PLAN_NAMES as [string, ...string[]]),
    limits: z.object({
      instances: z.number().int(),
      requests_per_minute: z.object({
        read: z.number().int().meta({ description: "Per key, GET requests" }),
        write: z.number().int().meta({ description: "Per key, mutations that start no operation" }),
        heavy: z.number().int().meta({ description: "Per key, requests that start an operation" }),
        account: z.number().int().meta({ description: "Across all the account's keys" }),
      }),
    }),
    usage: z.object({ instances: z.number().int().meta({ description: "Live instances counted against the limit" }) }),
  })
  .meta({ id: "Account" });

export const regionResource = z.object({ code: z.string().meta({ example: "iad" }), name: z.string() }).meta({ id: "Region" });
