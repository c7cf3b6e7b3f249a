import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import type { OpenApiDocument } from "@/lib/openapi/document";
import { client, createAccount } from "../support/fixtures";
import { useApiServer } from "../support/security";
import { loadDocument } from "./support";
import { bodyWith, documentedOperations, resolve, serverOnBody, serverOnParameter, type DocumentedOperation, type Schema } from "./walk";

/**
 * The document says what the server enforces: for every constrained parameter
 * and body field (a pattern, a length, bounds, names it refuses), values
 * generated from the document's own keywords are accepted by the server
 * exactly when the document allows them.
 *
 * Two known, one-way gaps, kept out of one direction each:
 * - fields whose rule depends on another field (a provider's model id and key
 *   shape, `provider` decides) and fields with a `format` (date-time, uri) are
 *   only checked one way: what the document forbids, the server refuses;
 * - the server trims names before checking them, so a value with surrounding
 *   whitespace may be accepted where its length is documented as too long:
 *   forbidden values are generated without surrounding whitespace.
 */
let doc: OpenApiDocument;
let ops: DocumentedOperation[];

beforeAll(async () => {
  doc = await loadDocument();
  ops = await documentedOperations(doc);
});

/** Decided by another field of the same body (provider). */
const CROSS_FIELD = new Set(["model", "api_key"]);

/** What the document allows for one string or integer (the JSON Schema keywords it uses; `format` is not read). */
function documentAllows(s: Schema, v: string): boolean {
  if (s.type === "integer") {
    return /^-?\d+$/.test(v) && (s.minimum === undefined || Number(v) >= s.minimum) && (s.maximum === undefined || Number(v) <= s.maximum);
  }
  const length = [...v].length;
  const patterns = [s.pattern, ...(s.allOf ?? []).map((a: Schema) => a.pattern)].filter(Boolean) as string[];
  return (
    length >= (s.minLength ?? 0) &&
    length <= (s.maxLength ?? Infinity) &&
    patterns.every((p) => new RegExp(p, "u").test(v)) &&
    !(s.not?.enum ?? []).includes(v) &&
    (!s.enum || s.enum.includes(v))
  );
}

const constrained = (s: Schema) =>
  (s.type === "string" || s.type === "integer") &&
  ["pattern", "minLength", "maxLength", "minimum", "maximum", "not", "allOf"].some((k) => s[k] !== undefined);

/** Values around what the schema allows: matching its pattern, at its bounds, its refused names, and arbitrary text. */
function values(s: Schema): fc.Arbitrary<string> {
  if (s.type === "integer") {
    return fc.oneof(fc.integer({ min: (s.minimum ?? 0) - 3, max: (s.maximum ?? 100) + 3 }).map(String), fc.constantFrom("", "abc", "1.5", "0x10"));
  }
  const arbs: fc.Arbitrary<string>[] = [fc.string({ maxLength: 12 }), fc.string({ unit: "binary-ascii", maxLength: 12 })];
  for (const p of [s.pattern, ...(s.allOf ?? []).map((a: Schema) => a.pattern)].filter(Boolean)) {
    try {
      arbs.push(fc.stringMatching(new RegExp(p)), fc.stringMatching(new RegExp(p)).map((v) => v + "\u0000"));
    } catch {
      // a pattern fast-check cannot generate from (a lookahead): the other values still probe it
    }
  }
  for (const n of [s.minLength, s.maxLength].filter((x) => x !== undefined) as number[]) {
    arbs.push(fc.constantFrom("a".repeat(Math.max(0, n - 1)), "a".repeat(n), "a".repeat(n + 1), "a1".repeat(n).slice(0, n + 1)));
  }
  if (s.not?.enum) arbs.push(fc.constantFrom(...(s.not.enum as string[])));
  return fc.oneof(...arbs);
}

/** The string or integer under a field's nullable/array wrapping. */
function leaf(s: Schema): Schema | undefined {
  const r = resolve(doc, s);
  if (r.type === "array") return leaf(r.items);
  const branch = [...(r.anyOf ?? [])].map((b) => resolve(doc, b)).find((b) => b.type !== "null");
  return branch ? leaf(branch) : r;
}

/** Every constrained string or integer field of a body, by where it sits. */
function fields(s: Schema, at: string[] = []): { at: string[]; schema: Schema }[] {
  const r = resolve(doc, s);
  const branch = [...(r.anyOf ?? [])].map((b) => resolve(doc, b)).find((b) => b.type !== "null");
  if (branch) return fields(branch, at);
  if (r.type === "object") return Object.entries(r.properties ?? {}).flatMap(([k, v]) => fields(v as Schema, [...at, k]));
  if (r.type === "array") return fields(r.items, [...at, "[]"]);
  return constrained(r) ? [{ at, schema: r }] : [];
}

const hasSurroundingSpace = (v: string) => v !== v.trim();

function checkBothWays(where: string, s: Schema, server: (v: string) => string | null, oneWay: boolean) {
  fc.assert(
    fc.property(values(s), (v) => {
      const allowed = documentAllows(s, v);
      const answer = server(v);
      if (allowed && !oneWay) expect(answer, `${where}: the document allows ${JSON.stringify(v)}`).toBeNull();
      if (!allowed && !hasSurroundingSpace(v)) expect(answer, `${where}: the document forbids ${JSON.stringify(v)}`).not.toBeNull();
    }),
    { numRuns: 150, seed: 15 },
  );
}

describe("constraints: what the document allows, the server accepts; what it forbids, the server refuses", () => {
  it("every constrained parameter (path ids, cursors, limits, Idempotency-Key)", () => {
    const checked = new Set<string>();
    for (const o of ops) {
      for (const p of o.parameters) {
        const s = leaf(p.schema);
        if (!s || !constrained(s)) continue;
        checkBothWays(`${o.method} ${o.path} ${p.in} ${p.name}`, s, (v) => serverOnParameter(o, p, v), false);
        checked.add(`${p.in} ${p.name}`);
      }
    }
    expect([...checked]).toEqual(expect.arrayContaining(["header Idempotency-Key", "query cursor", "query limit", "path id", "path deliveryId"]));
  });

  it("every constrained body field (subdomain, names, model ids, tokens, agent ids, ...)", () => {
    const checked = new Set<string>();
    for (const o of ops.filter((x) => x.body)) {
      for (const { at, schema } of fields(o.body!)) {
        const name = at[at.length - 1]!;
        const oneWay = CROSS_FIELD.has(name) || schema.format !== undefined;
        checkBothWays(`${o.method} ${o.path} ${at.join(".")}`, schema, (v) => serverOnBody(o, bodyWith(doc, o.body!, at, v)), oneWay);
        checked.add(`${o.method} ${o.path} ${at.join(".")}`);
      }
    }
    expect([...checked]).toEqual(
      expect.arrayContaining([
        "POST /api/v1/instances subdomain",
        "POST /api/v1/keys name",
        "PUT /api/v1/instances/{id}/integrations telegram.bot_token",
        "PUT /api/v1/instances/{id}/integrations slack.app_token",
        "PUT /api/v1/instances/{id}/agents agents.[].name",
        "PUT /api/v1/instances/{id}/agents agents.[].model",
        "PUT /api/v1/instances/{id}/provider api_key",
      ]),
    );
  });

  it("documents the Idempotency-Key as the server reads it: 255 characters, not 257", () => {
    const header = resolve(doc, { $ref: "#/components/parameters/IdempotencyKey" }).schema as Schema;
    expect(documentAllows(header, "k".repeat(255))).toBe(true);
    expect(documentAllows(header, "k".repeat(256))).toBe(false);
    expect(documentAllows(header, `"${"k".repeat(255)}"`)).toBe(true);
    expect(documentAllows(header, '""')).toBe(false);
  });
});

describe("constraints over HTTP", () => {
  const server = useApiServer();

  it("a cursor of the wrong kind and a reserved subdomain are refused as the document says", async () => {
    const me = await createAccount({ plan: "business", scopes: ["all"] });
    const api = client(server.url, me.token);
    const cursor = ops.find((o) => o.path === "/api/v1/operations" && o.method === "GET")!.parameters.find((p) => p.name === "cursor")!;
    expect(documentAllows(leaf(cursor.schema)!, "key_01jd3z6v7a8b9c0d1e2f3g4h5j")).toBe(false);
    expect((await api.get("/api/v1/operations?cursor=key_01jd3z6v7a8b9c0d1e2f3g4h5j")).body.code).toBe("invalid_cursor");
    expect((await api.get("/api/v1/operations?cursor=op_01jd3z6v7a8b9c0d1e2f3g4h5j")).status).toBe(200);

    const subdomain = leaf(resolve(doc, { $ref: "#/components/schemas/CreateInstanceRequest" }).properties.subdomain)!;
    expect(documentAllows(subdomain, "www")).toBe(false);
    expect((await api.post("/api/v1/instances", { subdomain: "www" })).status).toBe(400);
    expect(documentAllows(subdomain, "x".repeat(64))).toBe(false);
    expect((await api.post("/api/v1/instances", { subdomain: "x".repeat(64) })).status).toBe(400);
  });
});
