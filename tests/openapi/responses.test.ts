import { Validator } from "@seriousme/openapi-schema-validator";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { ROUTE_MODULES } from "@/app/api/v1/openapi.json/routes";
import type { Method } from "@/lib/http/route";
import { definitionOf } from "@/lib/openapi/document";
import { client, createAccount, uniqueSubdomain, waitForOperation, type ApiResponse } from "../support/fixtures";
import { useApiServer } from "../support/security";

/**
 * A real run against the documented contract: every GET endpoint, and the
 * POSTs that make something for them to show, answer bodies that match both
 * the schema in the served document and the zod schema the route declares.
 */
type ResolvedOp = { responses: Record<string, { content?: Record<string, { schema?: object }>; headers?: Record<string, unknown> }> };
type ResolvedDoc = { paths: Record<string, Record<string, ResolvedOp>> };

const server = useApiServer();
let doc: ResolvedDoc;
let api: ReturnType<typeof client>;
const checked: string[] = [];

beforeAll(async () => {
  // The account first: opening the database is the slow part, and an HTTP connection left idle
  // past the server's keep-alive timeout meanwhile could be reset under the next request.
  const me = await createAccount({ plan: "business", scopes: ["all"] });
  api = client(server.url, me.token);
  const res = await fetch(`${server.url}/api/v1/openapi.json`);
  const validator = new Validator();
  const result = await validator.validate((await res.json()) as Record<string, unknown>);
  expect(result.valid).toBe(true);
  doc = validator.resolveRefs() as unknown as ResolvedDoc; // every $ref replaced by what it names
});

const documented = (path: string, method: Method) => doc.paths[path]?.[method.toLowerCase()];

/** Checks one answer against the document and against the route's own zod schema. */
async function expectDocumented(path: string, method: Method, res: ApiResponse) {
  const where = `${method} ${path}`;
  const op = documented(path, method);
  expect(op, `${where} is not in the document`).toBeDefined();
  const status = String(res.status);
  const response = op!.responses[status];
  expect(response, `${where} answered ${status}, which is not documented: ${res.text.slice(0, 300)}`).toBeDefined();
  for (const name of Object.keys(response!.headers ?? {})) {
    if (["X-Request-Id", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit-Policy", "RateLimit", "Operation-Location"].includes(name)) {
      expect(res.headers.get(name), `${where}: header ${name}`).toBeTruthy();
    }
  }
  const [contentType, media] = Object.entries(response!.content ?? {})[0] ?? [];
  if (!media) {
    expect(res.text, `${where}: documented without a body`).toBe("");
    return;
  }
  expect(res.headers.get("content-type"), where).toBe(contentType);
  const fromDocument = z.fromJSONSchema(media.schema as Parameters<typeof z.fromJSONSchema>[0]).safeParse(res.body);
  expect(fromDocument.success, `${where} ${status} does not match the document: ${JSON.stringify(fromDocument.error?.issues)}`).toBe(true);

  if (res.status < 400) {
    const entry = ROUTE_MODULES.find((m) => m.path === path)!;
    const declared = definitionOf(await entry.load())[method]!.response?.schema;
    expect(declared, `${where} answers a body but its route declares no response schema`).toBeDefined();
    const fromRoute = declared!.safeParse(res.body);
    expect(fromRoute.success, `${where} does not match its route's zod schema: ${JSON.stringify(fromRoute.error?.issues)}`).toBe(true);
  }
  checked.push(`${method} ${path} ${status}`);
}

/** The id of the first item of a list, to fill in a path parameter. */
async function firstId(listPath: string): Promise<string> {
  const res = await api.get(listPath);
  expect(res.status, `GET ${listPath} to find an id: ${res.text.slice(0, 200)}`).toBe(200);
  expect(Array.isArray(res.body) && res.body.length > 0, `GET ${listPath} is empty: nothing to fill in its {id} with`).toBe(true);
  return res.body[0].id as string;
}

describe("responses match the OpenAPI document", () => {
  it("POST /api/v1/keys", async () => {
    const res = await api.post("/api/v1/keys", { name: "doc-check", scopes: ["read"] });
    expect(res.status).toBe(201);
    await expectDocumented("/api/v1/keys", "POST", res);
  });

  it("POST /api/v1/webhooks", async () => {
    const res = await api.post("/api/v1/webhooks", { url: "http://127.0.0.1:9/doc-check", events: ["operation.succeeded", "operation.failed"] });
    expect(res.status, res.text).toBe(201);
    await expectDocumented("/api/v1/webhooks", "POST", res);
  });

  it("POST /api/v1/instances, and the operation it starts", async () => {
    const res = await api.post("/api/v1/instances", { subdomain: uniqueSubdomain("doc-check"), fly_region: "dfw" }, { headers: { "idempotency-key": `doc-${Date.now()}` } });
    expect(res.status, res.text).toBe(202);
    await expectDocumented("/api/v1/instances", "POST", res);
    const done = await waitForOperation(api, res.body.id);
    expect(done.body.status, done.text).toBe("succeeded");
    await expectDocumented("/api/v1/operations/{id}", "GET", done);
  });

  it("every GET endpoint", async () => {
    const gets = Object.keys(doc.paths).filter((p) => doc.paths[p]!.get);
    expect(gets.length).toBeGreaterThan(3);
    for (const path of gets) {
      // Fill each {param} with the first item of the list before it (e.g. /webhooks/{id}/deliveries/{deliveryId}).
      let concrete = "";
      for (const seg of path.split("/").slice(1)) {
        concrete += "/" + (/^\{.+\}$/.test(seg) ? encodeURIComponent(await firstId(concrete)) : seg);
      }
      await expectDocumented(path, "GET", await api.get(concrete));
    }
  });

  it("a paged list's Link header, and errors as problem documents", async () => {
    const paged = await api.get("/api/v1/keys?limit=1");
    expect(paged.headers.get("link")).toMatch(/^<http:\/\/127\.0\.0\.1:\d+\/api\/v1\/keys\?limit=1&cursor=key_[0-9a-z]+>; rel="next"$/);
    await expectDocumented("/api/v1/keys", "GET", paged);

    await expectDocumented("/api/v1/keys", "GET", await client(server.url).get("/api/v1/keys"));
    await expectDocumented("/api/v1/keys/{id}", "GET", await api.get("/api/v1/keys/key_00000000000000000000000000"));
    await expectDocumented("/api/v1/keys", "POST", await api.post("/api/v1/keys", { name: "" }));
    await expectDocumented("/api/v1/keys", "POST", await api.raw("POST", "/api/v1/keys", { rawBody: "{nope", headers: { "content-type": "application/json" } }));
  });

  it("checked every documented GET", () => {
    const gets = Object.keys(doc.paths).filter((p) => doc.paths[p]!.get);
    for (const p of gets) expect(checked.some((c) => c.startsWith(`GET ${p} 2`)), `GET ${p}`).toBe(true);
  });
});
