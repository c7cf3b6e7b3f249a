import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { client, createAccount } from "../support/fixtures";
import { useApiServer } from "../support/security";

/** The typed-client example (examples/list-instances.ts) works against a real server. */
const ROOT = path.resolve(import.meta.dirname, "../..");
const server = useApiServer();

const runExample = (env: Record<string, string>) =>
  promisify(execFile)(process.execPath, [path.join(ROOT, "node_modules", "tsx", "dist", "cli.mjs"), "examples/list-instances.ts"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, ...env } as unknown as NodeJS.ProcessEnv,
    timeout: 60_000,
  });

describe("examples/list-instances.ts", () => {
  it("lists the account's instances with the generated types", { timeout: 90_000 }, async () => {
    const me = await createAccount();
    const subdomain = `typed-client-${process.pid}`;
    const made = await client(server.url, me.token).post("/api/v1/instances", { subdomain });
    expect(made.status, made.text).toBe(202);
    const { stdout } = await runExample({ MOC_API_KEY: me.token, MOC_BASE_URL: server.url });
    expect(stdout).toContain(subdomain);
    expect(stdout).toMatch(/1 instance\(s\); \d+ requests left this minute\./);
  });

  it("reports a problem's code and request id", { timeout: 90_000 }, async () => {
    const err = await runExample({ MOC_API_KEY: "moc_wrong_key", MOC_BASE_URL: server.url }).catch((e: { code: number; stderr: string }) => e);
    expect(err).toMatchObject({ code: 1 });
    expect((err as { stderr: string }).stderr).toMatch(/^401 invalid_api_key: .+ \(request req_[0-9a-f]+\)/);
  });
});

describe("examples/client/schema.d.ts", () => {
  it("is up to date with the document (else: npm run generate:client)", async () => {
    const fs = await import("node:fs");
    const { loadDocument } = await import("./support");
    const types = fs.readFileSync(path.join(ROOT, "examples", "client", "schema.d.ts"), "utf8");
    const doc = await loadDocument();
    expect(Object.keys(doc.paths ?? {}).length, "the document has paths to compare").toBeGreaterThan(10);
    const stale: string[] = [];
    for (const [p, item] of Object.entries(doc.paths ?? {})) {
      if (!types.includes(`"${p}": {`)) stale.push(`path ${p}`);
      for (const op of Object.values(item as Record<string, { operationId: string }>)) {
        if (!types.includes(`    ${op.operationId}: {`)) stale.push(`operation ${op.operationId}`);
      }
    }
    for (const name of Object.keys(doc.components?.schemas ?? {})) if (!types.includes(`        ${name}: {`)) stale.push(`schema ${name}`);
    expect(stale, "examples/client/schema.d.ts is stale: run npm run generate:client").toEqual([]);
  });
});
