import { beforeAll, describe, expect, it } from "vitest";
import type { OpenApiDocument } from "@/lib/openapi/document";
import { client, createAccount, waitForOperation } from "../support/fixtures";
import { useApiServer } from "../support/security";
import { loadDocument } from "./support";
import {
  bodyExamples,
  bodyWith,
  documentedOperations,
  parameterExamples,
  resolve,
  sample,
  serverOnBody,
  serverOnParameter,
  type DocumentedOperation,
} from "./walk";

/**
 * Every example the document gives for a request (a body, any field of one, a
 * path or query parameter, the Idempotency-Key header) is one the server
 * accepts: checked with the wrapper's own readers and the route's own zod
 * schemas, and a few sent over HTTP.
 */
let doc: OpenApiDocument;
let ops: DocumentedOperation[];

beforeAll(async () => {
  doc = await loadDocument();
  ops = await documentedOperations(doc);
});

const op = (method: string, path: string) => ops.find((o) => o.method === method && o.path === `/api/v1${path}`)!;

describe("documented request examples", () => {
  it("every parameter example is accepted by the server's own reader", () => {
    const checked: string[] = [];
    for (const o of ops) {
      for (const p of o.parameters) {
        for (const example of parameterExamples(p)) {
          const where = `${o.method} ${o.path} ${p.in} ${p.name} = ${JSON.stringify(example)}`;
          expect(serverOnParameter(o, p, example), where).toBeNull();
          checked.push(`${p.in} ${p.name}`);
        }
      }
    }
    // path ids of every kind, and the header every change takes
    for (const kind of ["path id", "path deliveryId", "header Idempotency-Key"]) expect(checked, kind).toContain(kind);
  });

  it("every body example, and every example of a body's field in a body made of the others, is accepted by the route's schema", () => {
    const checked: string[] = [];
    for (const o of ops.filter((x) => x.body)) {
      for (const { at, value } of bodyExamples(doc, o.body!)) {
        const body = bodyWith(doc, o.body!, at, value);
        const where = `${o.method} ${o.path} ${at.join(".") || "(body)"} = ${JSON.stringify(value)}\nin ${JSON.stringify(body)}`;
        expect(serverOnBody(o, body), where).toBeNull();
        checked.push(`${o.method} ${o.path} ${at.join(".")}`);
      }
      // the whole example: every field that has one
      const full = sample(doc, o.body!, true);
      expect(serverOnBody(o, full), `${o.method} ${o.path}: ${JSON.stringify(full)}`).toBeNull();
    }
    // the examples: the provider key, the Telegram and Slack tokens, a key's expiry
    expect(checked).toEqual(
      expect.arrayContaining([
        "PUT /api/v1/instances/{id}/provider api_key",
        "PUT /api/v1/instances/{id}/provider ", // the document's own example
        "PUT /api/v1/instances/{id}/integrations telegram.bot_token",
        "PUT /api/v1/instances/{id}/integrations slack.bot_token",
        "PUT /api/v1/instances/{id}/integrations slack.app_token",
        "PUT /api/v1/instances/{id}/integrations discord.bot_token",
        "POST /api/v1/keys expires_at",
        "POST /api/v1/instances subdomain",
      ]),
    );
    expect(checked.length).toBeGreaterThan(30);
  });

  it("a date-time example for a request is in the future (a key's expiry must be)", () => {
    const expiresAt = bodyExamples(doc, op("POST", "/keys").body!).find((e) => e.at.join(".") === "expires_at")!;
    expect(Date.parse(expiresAt.value as string)).toBeGreaterThan(Date.now() + 180 * 86_400_000);
  });

  it("the walk can fail: an example the server refuses is reported", () => {
    const provider = op("PUT", "/instances/{id}/provider");
    expect(serverOnBody(provider, { provider: "anthropic", model: "claude-sonnet-4-5", api_key: "sk-ant-api03-..." })).toMatch(/api_key/);
    const create = op("POST", "/instances");
    const idem = create.parameters.find((p) => p.name === "Idempotency-Key")!;
    expect(serverOnParameter(create, idem, "x".repeat(256))).toMatch(/invalid_idempotency_key/);
  });
});

describe("documented examples over HTTP", () => {
  const server = useApiServer();

  it("creates an instance from the examples, then PUTs each configuration document's example", { timeout: 60_000 }, async () => {
    const me = await createAccount({ plan: "business", scopes: ["all"] });
    const api = client(server.url, me.token);
    const create = op("POST", "/instances");
    const body = sample(doc, create.body!, true) as Record<string, unknown>;
    const idem = parameterExamples(create.parameters.find((p) => p.name === "Idempotency-Key")!)[0] as string;
    const made = await api.post("/api/v1/instances", body, { headers: { "idempotency-key": idem } });
    expect(made.status, made.text).toBe(202);
    expect((await waitForOperation(api, made.body.id)).body.status).toBe("succeeded");
    const instance = made.body.instance_id as string;

    for (const document of ["provider", "integrations", "agents"]) {
      const schema = resolve(doc, op("PUT", `/instances/{id}/${document}`).body!);
      expect(schema.example, document).toBeDefined();
      const res = await api.put(`/api/v1/instances/${instance}/${document}`, schema.example);
      // The create took the same documents (its body is made of these examples): 200, nothing to apply; else 202 and an operation.
      expect([200, 202], `${document}: ${res.text}`).toContain(res.status);
      if (res.status === 202) expect((await waitForOperation(api, res.body.id)).body.status, document).toBe("succeeded");
    }
  });

  it("creates a key with the documented expiry", async () => {
    const me = await createAccount({ plan: "business", scopes: ["all"] });
    const body = sample(doc, op("POST", "/keys").body!, true) as Record<string, unknown>;
    expect(body.expires_at).toBeDefined();
    const res = await client(server.url, me.token).post("/api/v1/keys", body);
    expect(res.status, res.text).toBe(201);
    expect(res.body.expires_at).toBe(body.expires_at);
  });
});
