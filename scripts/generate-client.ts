/**
 * Writes the TypeScript types of the API (examples/client/schema.d.ts) from its
 * OpenAPI document, for typed clients such as openapi-fetch.
 *
 *   npm run generate:client                      # the document this code generates
 *   npm run generate:client -- --url http://localhost:3000   # the one a deployment serves
 *
 * The types are made by openapi-typescript (a dev dependency).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "..");
const OUT = path.join(ROOT, "examples", "client", "schema.d.ts");

async function document(): Promise<unknown> {
  const i = process.argv.indexOf("--url");
  if (i > 0) {
    const base = process.argv[i + 1]?.replace(/\/+$/, "");
    if (!base) throw new Error("--url needs the deployment's base URL, e.g. --url http://localhost:3000");
    const res = await fetch(`${base}/api/v1/openapi.json`);
    if (!res.ok) throw new Error(`GET ${base}/api/v1/openapi.json answered ${res.status}`);
    return res.json();
  }
  // Building the document imports the route files; nothing in that opens a database, but be sure.
  process.env.DATABASE_URL ??= "memory://";
  const { ROUTE_MODULES } = await import("../app/api/v1/openapi.json/routes");
  const { buildDocument, forDeployment, loadRoutes } = await import("../lib/openapi/document");
  return forDeployment(buildDocument(await loadRoutes(ROUTE_MODULES)), "http://localhost:3000");
}

async function main() {
  const bin = path.join(ROOT, "node_modules", ".bin", "openapi-typescript");
  if (!fs.existsSync(bin)) {
    throw new Error("openapi-typescript is not installed: see docs/openapi.md, Typed client (npm install --save-dev --save-exact openapi-typescript@7.13.0, with its override)");
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "moc-openapi-"));
  try {
    const input = path.join(tmp, "openapi.json");
    fs.writeFileSync(input, JSON.stringify(await document(), null, 2) + "\n");
    const run = spawnSync(bin, [input, "--output", OUT], { stdio: "inherit" });
    if (run.status !== 0) throw new Error(`openapi-typescript failed (exit ${run.status})`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  console.log(`wrote ${path.relative(ROOT, OUT)}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
