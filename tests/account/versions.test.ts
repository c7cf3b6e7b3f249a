import { describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { openclawVersion } from "@/db/schema";
import { SEEDED_VERSION } from "@/lib/openclaw/versions";
import { client, createAccount } from "../support/fixtures";
import { describeSecurity, useApiServer } from "../support/security";

// GET /api/v1/versions: the OpenClaw versions on offer, for any valid key. The
// database may be shared with other suites, so this file looks only at the
// versions it made and at the one the migration seeded.

const server = useApiServer();

describe("GET /api/v1/versions", () => {
  it("lists every version, newest release first, with exactly one default and the deprecated ones marked", async () => {
    const db = await getDb();
    const tag = (n: number) => `2098.${process.pid}.${n}-list`;
    await db.insert(openclawVersion).values([
      { version: tag(1), image: `ghcr.io/openclaw/openclaw:${tag(1)}`, releasedAt: new Date("2098-01-01T00:00:00Z") },
      { version: tag(2), image: `ghcr.io/openclaw/openclaw@sha256:${"ab".repeat(32)}`, releasedAt: new Date("2098-02-01T00:00:00Z"), deprecatedAt: new Date() },
    ]);
    // A key with a single unrelated scope: any valid key may read the versions.
    const me = await createAccount({ scopes: ["keys:read"] });
    const res = await client(server.url, me.token).get("/api/v1/versions");
    expect(res.status).toBe(200);
    const versions = res.body as { version: string; released_at: string; default: boolean }[];
    const mine = versions.filter((v) => v.version.endsWith("-list") && v.version.includes(`.${process.pid}.`));
    expect(mine).toEqual([
      { version: tag(2), image: `ghcr.io/openclaw/openclaw@sha256:${"ab".repeat(32)}`, released_at: "2098-02-01T00:00:00.000Z", default: false, deprecated: true },
      { version: tag(1), image: `ghcr.io/openclaw/openclaw:${tag(1)}`, released_at: "2098-01-01T00:00:00.000Z", default: false, deprecated: false },
    ]);
    expect(versions.filter((v) => v.default)).toHaveLength(1);
    const releases = versions.map((v) => v.released_at);
    expect(releases).toEqual([...releases].sort().reverse());
    // The version every machine ran before versions were kept, as the migration seeded it.
    expect(versions.find((v) => v.version === SEEDED_VERSION.version)).toMatchObject({ image: SEEDED_VERSION.image, deprecated: false });
  });

  it("takes no query parameters", async () => {
    const me = await createAccount();
    const res = await client(server.url, me.token).get("/api/v1/versions?deprecated=false");
    expect({ status: res.status, code: res.body.code }).toEqual({ status: 400, code: "validation_error" });
  });
});

describeSecurity("GET /api/v1/versions", server, { method: "GET", scope: "any", path: () => "/api/v1/versions" });
