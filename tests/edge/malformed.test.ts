import { describe, expect, it } from "vitest";
import { discoverRoutes } from "../support/api";
import { client, createAccount, createRunningInstance, uniqueSubdomain } from "../support/fixtures";
import { useApiServer } from "../support/security";

const server = useApiServer();

/** Every route file under /api/v1 as a path with its dynamic segments filled in by `fill`. */
function routePaths(fill: (param: string) => string): string[] {
  return discoverRoutes()
    .map((r) =>
      "/" +
      r.segments
        .map((s) => (s.kind === "static" ? s.value : s.kind === "param" ? fill(s.name) : "x/y"))
        .join("/"),
    )
    .filter((p) => p.startsWith("/api/v1/"));
}

const NASTY_BODIES: { body: string; type?: string }[] = [
  { body: "{" },
  { body: "null" },
  { body: "[]" },
  { body: '"a string"' },
  { body: "12345678901234567890123456789" },
  { body: '{"__proto__": {"admin": true}}' },
  { body: '{"constructor": {"prototype": {"x": 1}}}' },
  { body: '{"subdomain": "a\\u0000b", "name": "\\u0000"}' },
  { body: '{"name": "\\ud800", "scopes": ["read"]}' },
  { body: JSON.stringify({ a: "x".repeat(70 * 1024) }) },
  { body: "[".repeat(5000) + "]".repeat(5000) },
  { body: '{"subdomain": {"$ne": null}, "url": ["http://x"], "events": "all", "provider": 7}' },
  { body: "\xff\xfe\x00", type: "application/json" },
  { body: "a=b&c=d", type: "application/x-www-form-urlencoded" },
  { body: '{"a":1}', type: "text/plain" },
];

const NASTY_IDS = ["%00", "%E0%A4%A", "..%2F..%2Fetc", "inst_" + "z".repeat(300), "'; drop table instance; --", "%F0%9F%92%A9", "op_0000000000000000000000000z"];

describe("no input, however malformed, yields a 500", () => {
  // Several hundred requests, a database round trip or more each: on Neon's driver through the relay, on a busy machine, longer than the default.
  it("holds for every route, method, body and id", { timeout: 120_000 }, async () => {
    const me = await createAccount({ plan: "business", limits: { read: 100_000, write: 100_000, heavy: 100_000, account: 100_000 } });
    const api = client(server.url, me.token);
    await createRunningInstance(api, uniqueSubdomain("fuzz"));
    const failures: string[] = [];
    let requests = 0;
    const check = async (method: string, path: string, body?: string, type = "application/json", headers: Record<string, string> = {}) => {
      const res = await api.raw(method, path, { rawBody: body, headers: { "content-type": type, ...headers } });
      requests++;
      if (res.status >= 500 && res.body?.code !== "rate_limiter_unavailable") failures.push(`${method} ${path} ${body?.slice(0, 40) ?? ""} -> ${res.status} ${res.text.slice(0, 200)}`);
      else if (res.status >= 400 && res.status !== 405 && res.headers.get("content-type") !== "application/problem+json") failures.push(`${method} ${path} -> ${res.status} not problem+json`);
    };
    for (const id of NASTY_IDS) {
      for (const path of routePaths(() => id)) {
        for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE"]) await check(method, path, method === "GET" || method === "DELETE" ? undefined : "{}");
      }
    }
    for (const path of routePaths((p) => (p === "id" ? "nope" : "x"))) {
      for (const method of ["POST", "PUT", "PATCH"]) {
        for (const b of NASTY_BODIES) await check(method, path, b.body, b.type);
      }
      await check("GET", `${path}?limit=-1&cursor=%00&status=%00&instance_id=%00&type[]=x`);
      await check("POST", path, "{}", "application/json", { "idempotency-key": "x".repeat(300) });
    }
    expect(failures).toEqual([]);
    expect(requests).toBeGreaterThan(300);
  });
});
