/**
 * Benchmark baseline (scripts/bench.ts, docs/benchmarks.md): a route handler in
 * the same server as the API that answers the very bytes `GET /api/v1/instances`
 * answered, with none of the API's work (no key check, no rate limit, no scope
 * check, no query). The bench compares the two to measure what the request
 * wrapper and the query cost.
 *
 * Off unless BENCH_BARE_ROUTE=1: every other deployment answers 404 here, so the
 * route cannot be reached by accident. The flag is read from process.env in this
 * one file rather than through lib/config.ts because it is not a setting of the
 * service: only the benchmark sets it, for a throwaway server.
 *
 * The payload is the file `bench-bare.json` in DATA_DIR, which the bench writes
 * after capturing one real authenticated answer; it is read once and kept.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { config } from "@/lib/config";
import { ApiError } from "@/lib/errors";
import { problem, routeNotFound } from "@/lib/http/route";

export const dynamic = "force-dynamic";

const PAYLOAD_FILE = "bench-bare.json";

let payload: string | undefined;

const enabled = () => process.env.BENCH_BARE_ROUTE === "1";

/** Disabled, every method answers 404 (not 405), as if the route did not exist. */
async function other(req: Request): Promise<Response> {
  if (!enabled()) return routeNotFound(req);
  return problem(req, new ApiError("method_not_allowed", `${req.method} is not allowed here. Allowed: GET, HEAD.`, { headers: { allow: "GET, HEAD" } }));
}
export { other as POST, other as PUT, other as PATCH, other as DELETE, other as OPTIONS };

export async function GET(req: Request): Promise<Response> {
  if (!enabled()) return routeNotFound(req);
  if (payload === undefined) {
    try {
      payload = await readFile(path.join(config().dataDir, PAYLOAD_FILE), "utf8");
    } catch {
      return problem(req, new ApiError("service_unavailable", "The benchmark has not written its payload yet.")); // the bench has not written it yet
    }
  }
  return new Response(payload, { status: 200, headers: { "content-type": "application/json", "cache-control": "no-store" } });
}
