import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SCOPES, type Scope } from "@/lib/scopes";
import { startApiServer, type TestServer } from "./api";
import { client, createAccount, createKeyFor, expireKey, type TestAccount } from "./fixtures";

/** Starts the API over HTTP for the file's tests. */
export function useApiServer(): { readonly url: string } {
  let server: TestServer | undefined;
  beforeAll(async () => {
    server = await startApiServer();
  });
  afterAll(async () => {
    await server?.close();
  });
  return {
    get url() {
      if (!server) throw new Error("the API server has not started");
      return server.url;
    },
  };
}

export interface SecuritySpec {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** The scope the route needs ("any": any valid key). */
  scope: Scope | "any";
  /** The path for a resource owned by `owner` (create it here if the route names one). */
  path: (owner: TestAccount) => Promise<string> | string;
  /** A valid body, so that only the security check can refuse the request. */
  body?: unknown;
  /** True when the path names one resource: another account must get 404, never 403. */
  ownsResource?: boolean;
}

const expectProblem = (res: { status: number; headers: Headers; body: any }, status: number, code: string) => { // eslint-disable-line @typescript-eslint/no-explicit-any
  expect({ status: res.status, code: res.body?.code }).toEqual({ status, code });
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  expect(res.body.request_id).toBe(res.headers.get("x-request-id"));
};

/** A suite's name: the route it covers, as `METHOD /api/v1/path/{param}` (tests/edge/security-coverage.test.ts reads it). */
const ROUTE_NAME = /^(GET|POST|PUT|PATCH|DELETE) (\/api\/v1\/[^\s]*)$/;

/** Whether a concrete path is one of the route template's (`{id}` stands for one segment). */
export function pathMatches(template: string, path: string): boolean {
  const pattern = template.split("/").map((seg) => (/^\{[^}]+\}$/.test(seg) ? "[^/]+" : seg.replace(/[.*+?^$()|[\]\\]/g, "\\$&")));
  return new RegExp(`^${pattern.join("/")}$`).test(path.split("?")[0]!);
}

/**
 * The common auth cases, run against one route: no key, malformed key, unknown
 * key, revoked key, expired key, missing scope, cookie present, starter plan,
 * and another account's resource.
 *
 * `name` is the route, written out as a literal (`"GET /api/v1/keys/{id}"`):
 * tests/edge/security-coverage.test.ts reads the names from the test files
 * to find an authenticated route with no suite, and the suite checks that its
 * requests really go to the route it names.
 */
export function describeSecurity(name: string, server: { readonly url: string }, spec: SecuritySpec) {
  const route = ROUTE_NAME.exec(name);
  if (!route) throw new Error(`describeSecurity("${name}"): name the route as "METHOD /api/v1/path/{param}"`);
  if (route[1] !== spec.method) throw new Error(`describeSecurity("${name}"): the name says ${route[1]}, the spec ${spec.method}`);
  describe(`${name}: security`, () => {
    let owner: TestAccount;
    let path: string;
    const call = (token: string | undefined, headers: Record<string, string> = {}) =>
      client(server.url, token).raw(spec.method, path, { body: spec.body, headers });

    beforeAll(async () => {
      owner = await createAccount({ plan: "pro" });
      path = await spec.path(owner);
      if (!pathMatches(route[2]!, path)) throw new Error(`describeSecurity("${name}"): its path ${path} is not that route's`);
    });

    it("refuses a request without a key (401, WWW-Authenticate)", async () => {
      const res = await call(undefined);
      expectProblem(res, 401, "missing_api_key");
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    });

    it("refuses a malformed key and a key with a wrong checksum", async () => {
      expectProblem(await call("not-a-key"), 401, "invalid_api_key");
      const last = owner.token.at(-1) === "a" ? "b" : "a";
      expectProblem(await call(owner.token.slice(0, -1) + last), 401, "invalid_api_key");
      expectProblem(await call(owner.token.slice(0, -3)), 401, "invalid_api_key");
    });

    it("refuses an unknown key", async () => {
      // Well-formed, with a valid checksum (so it is refused by the lookup, not by its shape), but never issued.
      const { generateToken, parseToken } = await import("@/lib/keys/token");
      const unknown = generateToken().token;
      expect(parseToken(unknown)).not.toBeNull();
      expectProblem(await call(unknown), 401, "invalid_api_key");
    });

    it("refuses a revoked key on the very next request", async () => {
      const k = await createKeyFor(owner.accountId);
      const revoke = await client(server.url, owner.token).delete(`/api/v1/keys/${k.id}`);
      expect(revoke.status).toBe(204);
      expectProblem(await call(k.token), 401, "invalid_api_key");
    });

    it("refuses an expired key with its own code", async () => {
      const k = await createKeyFor(owner.accountId);
      await expireKey(k.id);
      expectProblem(await call(k.token), 401, "api_key_expired");
    });

    if (spec.scope !== "any") {
      it(`refuses a key without ${spec.scope} (403 insufficient_scope)`, async () => {
        const others = SCOPES.filter((s) => s !== spec.scope);
        const k = await createKeyFor(owner.accountId, { scopes: others });
        const res = await call(k.token);
        expectProblem(res, 403, "insufficient_scope");
        expect(res.body.required_scope).toBe(spec.scope);
      });
    }

    it("refuses a request that carries a cookie", async () => {
      expectProblem(await call(owner.token, { cookie: "session=abc" }), 403, "cookies_not_allowed");
    });

    it("refuses an account on the starter plan", async () => {
      const starter = await createAccount({ plan: "starter" });
      const starterPath = await Promise.resolve().then(() => spec.path(starter)).catch(() => path);
      const res = await client(server.url, starter.token).raw(spec.method, starterPath, { body: spec.body });
      expectProblem(res, 403, "plan_without_api_access");
    });

    if (spec.ownsResource) {
      it("answers 404, never 403, for another account's resource", async () => {
        const other = await createAccount({ plan: "business" });
        const res = await call(other.token);
        expectProblem(res, 404, "not_found");
      });
    }
  });
}
