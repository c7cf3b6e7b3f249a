import { ROUTE_MODULES } from "@/app/api/v1/openapi.json/routes";
import { inspectJson, validate } from "@/lib/http/body";
import { readIdempotencyKey } from "@/lib/http/idempotency";
import { readQuery } from "@/lib/http/query";
import { METHODS, type Endpoint, type Method } from "@/lib/http/route";
import { definitionOf, type OpenApiDocument } from "@/lib/openapi/document";
import { paramSchema } from "@/lib/openapi/naming";

/**
 * Walks the generated OpenAPI document the way a client generator or a
 * property-based tester reads it, and asks the server's own validation (the
 * functions and zod schemas the request wrapper runs) about what it finds.
 */

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Schema = Record<string, any>;

export interface Parameter {
  name: string;
  in: "path" | "query" | "header";
  schema: Schema;
  example?: unknown;
  examples?: Record<string, { value: unknown }>;
}

export interface DocumentedOperation {
  path: string;
  method: Method;
  parameters: Parameter[];
  body?: Schema;
  endpoint: Endpoint;
}

/** Follows `$ref`s (`#/components/...`) until a node that is not one. */
export function resolve(doc: OpenApiDocument, node: any): any {
  let n = node;
  for (let i = 0; n && typeof n === "object" && typeof n.$ref === "string" && i < 10; i++) {
    n = n.$ref
      .replace(/^#\//, "")
      .split("/")
      .reduce((at: any, key: string) => at?.[key], doc);
  }
  return n;
}

/** Every authenticated operation of the document, with its parameters and body resolved and its route's definition. */
export async function documentedOperations(doc: OpenApiDocument): Promise<DocumentedOperation[]> {
  const out: DocumentedOperation[] = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    const def = definitionOf(await ROUTE_MODULES.find((m) => m.path === path)!.load());
    for (const method of METHODS) {
      const op = (item as any)[method.toLowerCase()];
      const endpoint = def[method];
      if (!op || !endpoint || endpoint.scope === "public") continue;
      out.push({
        path,
        method,
        parameters: (op.parameters ?? []).map((p: unknown) => {
          const r = resolve(doc, p);
          return { ...r, schema: resolve(doc, r.schema) };
        }),
        body: op.requestBody ? resolve(doc, op.requestBody.content["application/json"].schema) : undefined,
        endpoint: endpoint as Endpoint,
      });
    }
  }
  return out;
}

/** A parameter's documented examples: its own `example`/`examples`, and its schema's. */
export function parameterExamples(p: Parameter): unknown[] {
  return [
    ...(p.example !== undefined ? [p.example] : []),
    ...Object.values(p.examples ?? {}).map((e) => e.value),
    ...(p.schema.example !== undefined ? [p.schema.example] : []),
    ...(p.schema.examples ?? []),
  ];
}

/** Where in a body a documented example sits (`["agents", "[]", "model"]`), and the example. */
export interface BodyExample {
  at: string[];
  value: unknown;
}

/** Every `example`/`examples` in a request body's schema, at any depth. */
export function bodyExamples(doc: OpenApiDocument, schema: Schema, at: string[] = [], seen = new Set<unknown>()): BodyExample[] {
  const s = resolve(doc, schema);
  if (!s || typeof s !== "object" || seen.has(s)) return [];
  seen.add(s);
  const out: BodyExample[] = [];
  if (s.example !== undefined) out.push({ at, value: s.example });
  for (const v of s.examples ?? []) out.push({ at, value: v });
  for (const [k, v] of Object.entries(s.properties ?? {})) out.push(...bodyExamples(doc, v as Schema, [...at, k], new Set(seen)));
  if (s.items) out.push(...bodyExamples(doc, s.items, [...at, "[]"], new Set(seen)));
  for (const branch of [...(s.anyOf ?? []), ...(s.oneOf ?? []), ...(s.allOf ?? [])]) out.push(...bodyExamples(doc, branch, at, new Set(seen)));
  return out;
}

/**
 * A value the schema describes, made of its own examples: its example, else its
 * default or first enum value, else (objects) its required properties (`full`:
 * also every optional one that has an example), else (arrays) `minItems` items.
 * A string with none of these has nothing to make a value of: undefined.
 */
export function sample(doc: OpenApiDocument, schema: Schema, full = false): unknown {
  const s = resolve(doc, schema);
  if (s.example !== undefined) return s.example;
  if (s.examples?.length) return s.examples[0];
  if (s.default !== undefined) return s.default;
  if (s.enum) return s.enum[0];
  if (s.const !== undefined) return s.const;
  const branch = [...(s.anyOf ?? []), ...(s.oneOf ?? [])].map((b) => resolve(doc, b)).find((b) => b.type !== "null");
  if (branch) return sample(doc, branch, full);
  switch (s.type) {
    case "object": {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(s.properties ?? {})) {
        const required = (s.required ?? []).includes(k);
        if (!required && !full) continue;
        const value = sample(doc, v as Schema, full);
        if (value === undefined && required) return undefined;
        if (value !== undefined && (required || hasExample(doc, v as Schema))) out[k] = value;
      }
      return out;
    }
    case "array": {
      const item = sample(doc, s.items, full);
      return item === undefined ? undefined : Array.from({ length: Math.max(1, s.minItems ?? 1) }, () => item);
    }
    case "boolean":
      return true;
    case "integer":
    case "number":
      return s.minimum ?? 1;
    default:
      return undefined;
  }
}

const hasExample = (doc: OpenApiDocument, schema: Schema) => bodyExamples(doc, schema).length > 0;

/** A body made of the schema's examples, with `value` at `at` (and what leads there). */
export function bodyWith(doc: OpenApiDocument, schema: Schema, at: string[], value: unknown): unknown {
  const s = resolve(doc, schema);
  if (at.length === 0) return value;
  const [head, ...rest] = at;
  const branch = [s, ...(s.anyOf ?? []), ...(s.oneOf ?? [])].map((b) => resolve(doc, b)).find((b) => (head === "[]" ? b.items : b.properties?.[head!]));
  if (!branch) throw new Error(`no ${at.join(".")} in the schema`);
  if (head === "[]") return [bodyWith(doc, branch.items, rest, value)];
  const base = (sample(doc, { ...branch, example: undefined, examples: undefined }) ?? {}) as Record<string, unknown>;
  return { ...base, [head!]: bodyWith(doc, branch.properties[head!], rest, value) };
}

/** What the server says of a body: null when its reader and the route's schema accept it, else the problem. */
export function serverOnBody(op: DocumentedOperation, body: unknown): string | null {
  const problem = inspectJson(body);
  if (problem) return `${problem.path}: ${problem.message}`;
  return refused(() => validate(op.endpoint.body!, body));
}

/** What the server says of one parameter's value (the others left out): null when accepted. */
export function serverOnParameter(op: DocumentedOperation, p: Parameter, value: unknown): string | null {
  const values = Array.isArray(value) ? value.map(String) : [String(value)];
  if (values.some((v) => v.includes("\0"))) return "NUL"; // the wrapper refuses NUL in any path or query parameter
  switch (p.in) {
    case "header":
      if (p.name !== "Idempotency-Key") throw new Error(`no server check known for header ${p.name}`);
      return refused(() => readIdempotencyKey(new Request("http://localhost/", { method: "POST", headers: { "idempotency-key": values[0]! } })));
    case "query":
      return refused(() => readQuery(op.endpoint.query, new URLSearchParams(values.map((v) => [p.name, v]))));
    case "path": {
      const r = paramSchema(op.path, p.name).safeParse(values[0]);
      return r.success ? null : r.error.issues[0]!.message;
    }
  }
}

function refused(run: () => unknown): string | null {
  try {
    run();
    return null;
  } catch (err) {
    const e = err as { code?: string; message?: string; extra?: unknown };
    return `${e.code ?? "error"}: ${e.message} ${JSON.stringify(e.extra ?? "")}`;
  }
}
