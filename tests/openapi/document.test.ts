import { Validator } from "@seriousme/openapi-schema-validator";
import { beforeAll, describe, expect, it } from "vitest";
import { ERROR_CODES } from "@/lib/errors";
import { rateLimitHeaders, RATE_LIMIT_HEADERS } from "@/lib/http/ratelimit";
import type { OpenApiDocument } from "@/lib/openapi/document";
import { SCOPES, SCOPE_SHORTCUTS } from "@/lib/scopes";
import { WEBHOOK_EVENT_TYPES } from "@/lib/webhooks/events";
import { client } from "../support/fixtures";
import { useApiServer } from "../support/security";
import { apiRouteFiles, definedMethods, loadDocument, lower } from "./support";

type Op = {
  operationId: string;
  security: Record<string, string[]>[];
  parameters?: { $ref?: string; name?: string; in?: string; description?: string }[];
  responses: Record<string, { headers?: Record<string, unknown>; content?: Record<string, { schema?: { allOf?: unknown[] } }> }>;
  tags: string[];
};

const operations = (doc: OpenApiDocument) =>
  Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
    Object.entries(item as Record<string, Op>).map(([method, op]) => ({ path, method: method.toUpperCase(), op })),
  );

describe("the OpenAPI document", () => {
  let doc: OpenApiDocument;
  beforeAll(async () => {
    doc = await loadDocument("https://api.example.test");
  });

  it("is a valid OpenAPI 3.1 document", async () => {
    const validator = new Validator();
    const res = await validator.validate(structuredClone(doc) as unknown as Record<string, unknown>);
    expect(res.errors ?? []).toEqual([]);
    expect(res.valid).toBe(true);
    expect(validator.version).toBe("3.1");
    expect(doc.openapi).toBe("3.1.0");
  });

  it("names this deployment in servers and in the quick start", () => {
    expect(doc.servers).toEqual([{ url: "https://api.example.test", description: "This deployment" }]);
    expect(doc.info.description).toContain("## Quick start");
    expect(doc.info.description).toContain("https://api.example.test/api/v1/account");
    expect(doc.info.description).not.toContain("api.example.com");
  });

  it("gives every operation a unique operationId, a summary and a tag", () => {
    const ops = operations(doc);
    const ids = ops.map((o) => o.op.operationId);
    expect(new Set(ids).size, `duplicate operationIds: ${ids.filter((id, i) => ids.indexOf(id) !== i)}`).toBe(ids.length);
    for (const { op, path, method } of ops) {
      expect(op.operationId, `${method} ${path}`).toMatch(/^[a-z][A-Za-z]+$/);
      expect(op.tags, `${method} ${path}`).toHaveLength(1);
    }
    expect(ids).toEqual(expect.arrayContaining(["listApiKeys", "createApiKey", "getApiKey", "deleteApiKey", "getAccount", "listRegions"]));
  });

  it("requires the bearer key with each endpoint's own scope, and nothing for public ones", async () => {
    const scheme = doc.components?.securitySchemes?.bearer as { type: string; scheme: string; description: string };
    expect(scheme).toMatchObject({ type: "http", scheme: "bearer" });
    for (const s of [...SCOPES, ...Object.keys(SCOPE_SHORTCUTS)]) expect(scheme.description).toContain(`\`${s}\``);

    for (const f of apiRouteFiles().filter((r) => !r.catchAll)) {
      const { def, methods } = await definedMethods(f.file);
      for (const m of methods) {
        const op = (doc.paths?.[f.path] as Record<string, Op>)[lower(m)]!;
        const scope = def[m]!.scope;
        const where = `${m} ${f.path}`;
        if (scope === "public") {
          expect(op.security, where).toEqual([]);
          expect(op.responses["401"], where).toBeUndefined();
        } else {
          expect(op.security, where).toEqual([{ bearer: scope === "any" ? [] : [scope] }]);
          for (const status of ["400", "401", "403", "413", "415", "429", "503"]) expect(op.responses[status], `${where} ${status}`).toBeDefined();
          const codes = Object.entries(op.responses)
            .filter(([status]) => Number(status) >= 400)
            .flatMap(([, r]) => Object.keys((r.content?.["application/problem+json"] as { examples?: object }).examples ?? {}));
          expect(codes, where).toEqual(expect.arrayContaining(["validation_error", "malformed_json", "missing_api_key", "invalid_api_key", "api_key_expired"]));
          expect(codes, where).toEqual(expect.arrayContaining(["plan_without_api_access", "cookies_not_allowed", "rate_limited", "rate_limiter_unavailable"]));
          expect(codes, where).toEqual(expect.arrayContaining((def[m] as { errors?: string[] }).errors ?? []));
          if (scope !== "any") expect(codes, where).toContain("insufficient_scope");
          if (f.path.includes("{")) expect(codes, where).toContain("not_found");
          expect(Object.keys(op.responses["429"]!.headers ?? {}), where).toEqual(expect.arrayContaining(["Retry-After", "X-RateLimit-Limit"]));
          expect(Object.keys(op.responses["503"]!.headers ?? {}), where).toContain("Retry-After");
        }
      }
    }
  });

  it("documents the headers: rate limits, request id, idempotency, operation locations, page links", () => {
    for (const { path, method, op } of operations(doc)) {
      const where = `${method} ${path}`;
      const [status, success] = Object.entries(op.responses).find(([s]) => Number(s) < 400)!;
      const headers = Object.keys(success.headers ?? {});
      expect(headers, where).toContain("X-Request-Id");
      for (const r of Object.values(op.responses)) expect(Object.keys(r.headers ?? {}), where).toContain("X-Request-Id");
      const isPublic = op.security.length === 0;
      if (!isPublic) {
        expect(headers, where).toEqual(expect.arrayContaining(["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit-Policy", "RateLimit"]));
      }
      const idem = (op.parameters ?? []).some((p) => p.$ref === "#/components/parameters/IdempotencyKey");
      expect(idem, `${where}: Idempotency-Key`).toBe(!isPublic && method !== "GET");
      if (!isPublic && method !== "GET") expect(headers, where).toContain("Idempotent-Replayed");
      const schema = (success.content?.["application/json"]?.schema ?? {}) as { $ref?: string };
      if (status === "202" && schema.$ref === "#/components/schemas/Operation") {
        expect(headers, where).toEqual(expect.arrayContaining(["Location", "Operation-Location"]));
      }
      if (status === "201") expect(headers, where).toContain("Location");
      const paged = (op.parameters ?? []).some((p) => p.in === "query" && p.name === "cursor");
      expect(headers.includes("Link"), `${where}: Link`).toBe(paged);
    }
    const idem = doc.components?.parameters?.IdempotencyKey as { name: string; in: string };
    expect(idem).toMatchObject({ name: "Idempotency-Key", in: "header" });
  });

  it("documents both answers of a configuration PUT: 202 with the operation, and 200 with the document and Config-Unchanged when nothing changes", () => {
    for (const kind of ["provider", "integrations", "agents"]) {
      const item = doc.paths![`/api/v1/instances/{id}/${kind}`] as Record<string, { responses: Record<string, { headers?: object; content?: Record<string, { schema: unknown }> }> }>;
      const put = item.put!.responses;
      expect((put["202"]!.content!["application/json"]!.schema as { $ref: string }).$ref, kind).toMatch(/^#\/components\/schemas\/Operation/);
      expect(Object.keys(put["200"]?.headers ?? {}), kind).toEqual(expect.arrayContaining(["Config-Unchanged", "X-Request-Id", "Idempotent-Replayed"]));
      // The unchanged answer is the document as GET answers it.
      expect(put["200"]!.content!["application/json"]!.schema, kind).toEqual(item.get!.responses["200"]!.content!["application/json"]!.schema);
    }
    expect(doc.components?.headers?.["Config-Unchanged"]).toBeDefined();
  });

  it("documents every webhook event type under webhooks: the signing headers and the payload (shown on /docs)", () => {
    const webhooks = (doc as { webhooks?: Record<string, { post: { parameters: { name: string }[]; requestBody: { content: Record<string, { schema: unknown }> } } }> }).webhooks ?? {};
    expect(Object.keys(webhooks).sort()).toEqual([...WEBHOOK_EVENT_TYPES].sort());
    expect(Object.keys(webhooks)).toEqual(expect.arrayContaining(["instance.status_changed", "instance.health_changed"]));
    for (const [type, entry] of Object.entries(webhooks)) {
      expect(entry.post.parameters.map((p) => p.name), type).toEqual(["webhook-id", "webhook-timestamp", "webhook-signature"]);
      const ref = (entry.post.requestBody.content["application/json"]!.schema as { $ref: string }).$ref;
      const payload = doc.components?.schemas?.[ref.replace("#/components/schemas/", "")] as { properties: { type: unknown; data: unknown } };
      expect(JSON.stringify(payload.properties.type), type).toContain(`"${type}"`);
      expect(payload.properties.data, type).toBeDefined();
    }
  });

  it("says that an instance id may be its subdomain", () => {
    const withInstance = operations(doc).filter((o) => o.path.startsWith("/api/v1/instances/{id}"));
    expect(withInstance.length).toBeGreaterThan(0);
    for (const { op, path } of withInstance) {
      const id = op.parameters?.find((p) => p.in === "path" && p.name === "id");
      expect(id?.description, path).toMatch(/subdomain/);
    }
  });

  it("describes every error with the one Problem schema, and lists each response's codes in its description and examples", () => {
    const problem = doc.components?.schemas?.Problem as { properties: Record<string, { enum?: string[] }>; required: string[] };
    expect(problem.required).toEqual(expect.arrayContaining(["type", "title", "status", "detail", "code", "request_id"]));
    expect(problem.properties.code!.enum!.sort()).toEqual(Object.keys(ERROR_CODES).sort());
    let errors = 0;
    for (const { path, method, op } of operations(doc)) {
      for (const [status, r] of Object.entries(op.responses).filter(([s]) => Number(s) >= 400)) {
        const where = `${method} ${path} ${status}`;
        const media = r.content as Record<string, { schema: unknown; examples: Record<string, { $ref: string }> }>;
        // Nothing inline: a generated client gets one error type, not one per operation and status.
        expect(media, where).toEqual({ "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" }, examples: expect.any(Object) } });
        const codes = Object.keys(media["application/problem+json"]!.examples);
        expect(codes.length, where).toBeGreaterThan(0);
        for (const code of codes) {
          expect(String(ERROR_CODES[code as keyof typeof ERROR_CODES].status), `${where}: ${code}`).toBe(status);
          expect((r as { description?: string }).description, where).toContain(`\`${code}\``);
          expect(media["application/problem+json"]!.examples[code], where).toEqual({ $ref: `#/components/examples/${code}` });
        }
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(100);
    // and no schema anywhere in the paths restates a problem's members
    expect(JSON.stringify(doc.paths)).not.toMatch(/"request_id"|"allOf"/);
  });

  it("links each operation-starting answer to the operation and the instance, through fields its schema has", () => {
    const byId = new Map(operations(doc).map((o) => [o.op.operationId, o]));
    const schemas = (doc.components?.schemas ?? {}) as Record<string, { properties?: Record<string, unknown>; required?: string[] }>;
    const followed: string[] = [];
    for (const { path, method, op } of operations(doc)) {
      for (const [status, r] of Object.entries(op.responses)) {
        const links = (r as { links?: Record<string, { operationId: string; parameters: Record<string, string> }> }).links;
        if (!links) continue;
        const ref = (r.content?.["application/json"]?.schema as { $ref?: string } | undefined)?.$ref ?? "";
        const schema = schemas[ref.replace("#/components/schemas/", "")];
        expect(schema, `${method} ${path} ${status}: links from a response without a named schema`).toBeDefined();
        for (const [name, link] of Object.entries(links)) {
          const where = `${method} ${path} ${status} -> ${name}`;
          const target = byId.get(link.operationId);
          expect(target, `${where}: no operation ${link.operationId}`).toBeDefined();
          const targetParams = [...target!.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
          expect(Object.keys(link.parameters).sort(), where).toEqual(targetParams.sort());
          for (const expr of Object.values(link.parameters)) {
            const field = /^\$response\.body#\/([a-z_]+)$/.exec(expr)?.[1];
            expect(field, `${where}: ${expr}`).toBeDefined();
            expect(Object.keys(schema!.properties ?? {}), `${where}: ${expr}`).toContain(field);
            expect(schema!.required, `${where}: ${expr} is always there`).toContain(field);
          }
          followed.push(`${op.operationId} -> ${link.operationId}`);
        }
      }
    }
    // create -> operation -> instance, and the same from every request that starts an operation
    for (const start of ["createInstance", "startInstance", "stopInstance", "restartInstance", "deleteInstance", "upgradeInstance", "createInstanceBackup", "restoreInstance", "replaceInstanceProvider", "replaceInstanceIntegrations", "replaceInstanceAgents"]) {
      expect(followed, start).toContain(`${start} -> getOperation`);
      expect(followed, start).toContain(`${start} -> getInstance`);
    }
    expect(followed).toContain("getOperation -> getInstance");
    expect(followed).toContain("createApiKey -> getApiKey");
  });

  it("has advice for every error code (shown on /docs/errors)", () => {
    const missing = Object.entries(ERROR_CODES).filter(([, spec]) => spec.advice.trim().length < 20).map(([code]) => code);
    expect(missing, "say what to do about these codes (their advice in lib/errors.ts)").toEqual([]);
  });

  it("names the rate-limit headers the wrapper sends", () => {
    const window = { limit: 10, remaining: 9, reset: 60_000, retryAt: 60_000, success: true };
    const sent = Object.keys(rateLimitHeaders("read", { key: window, account: window }, 0));
    expect(sent).toEqual(RATE_LIMIT_HEADERS.map((h) => h.toLowerCase()));
  });
});

describe("GET /api/v1/openapi.json", () => {
  const server = useApiServer();

  it("serves the document publicly, with this server's base URL", async () => {
    const res = await client(server.url).get("/api/v1/openapi.json");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.headers.get("x-request-id")).toMatch(/^req_[0-9a-f]{32}$/);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.body.openapi).toBe("3.1.0");
    expect(res.body.servers).toEqual([{ url: server.url, description: "This deployment" }]);
    expect(res.body.paths["/api/v1/keys"].get.operationId).toBe("listApiKeys");
    const validator = new Validator();
    expect((await validator.validate(res.body)).valid).toBe(true);
  });

  it("is public even when a key is sent, and refuses other methods", async () => {
    const res = await client(server.url, "moc_not_a_real_key").get("/api/v1/openapi.json");
    expect(res.status).toBe(200);
    const post = await client(server.url).post("/api/v1/openapi.json", {});
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, OPTIONS");
  });
});
