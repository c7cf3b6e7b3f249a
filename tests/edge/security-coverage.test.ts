import fs from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { METHODS } from "@/lib/http/route";
import { TOOLS } from "@/lib/mcp/tools";
import { definitionOf } from "@/lib/openapi/document";
import { discoverRoutes } from "../support/api";
import { pathMatches } from "../support/security";

// Every authenticated endpoint (a route file under app/api/v1 whose method is
// not public) has a security suite: a describeSecurity("METHOD /api/v1/...")
// somewhere in tests/. The routes come from the files on disk and their own
// definitions; the suites from the test files' source, read with TypeScript's
// parser (a suite's name must be a literal, so none can hide behind a template).

const TESTS = path.resolve(import.meta.dirname, "..");

/** "METHOD /api/v1/path/{param}" for every non-public endpoint of every route file. */
async function authenticatedEndpoints(): Promise<string[]> {
  const out: string[] = [];
  for (const r of discoverRoutes()) {
    if (r.segments.some((s) => s.kind === "catchAll")) continue; // the /api/v1 404 fallback, no endpoints
    const template = "/" + r.segments.map((s) => (s.kind === "static" ? s.value : `{${s.kind === "param" ? s.name : ""}}`)).join("/");
    if (!template.startsWith("/api/v1/")) continue;
    const definition = definitionOf(await import(r.file), r.file);
    for (const m of METHODS) {
      const e = definition[m];
      if (e && e.scope !== "public") out.push(`${m} ${template}`);
    }
  }
  return out.sort();
}

/** The names of the describeSecurity calls in the test files, and the calls whose name is not a literal. */
function securitySuites(): { names: string[]; unreadable: string[] } {
  const names: string[] = [];
  const unreadable: string[] = [];
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(dir, e.name));
      else if (e.name.endsWith(".test.ts")) files.push(path.join(dir, e.name));
    }
  };
  walk(TESTS);
  for (const file of files) {
    const text = fs.readFileSync(file, "utf8");
    if (!text.includes("describeSecurity(")) continue;
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node) => {
      if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === "describeSecurity") {
        const [first] = node.arguments;
        if (first && (ts.isStringLiteral(first) || ts.isNoSubstitutionTemplateLiteral(first))) names.push(first.text);
        else {
          const { line } = source.getLineAndCharacterOfPosition(node.getStart());
          unreadable.push(`${path.relative(TESTS, file)}:${line + 1}`);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return { names: names.sort(), unreadable };
}

describe("security suites", () => {
  it("cover every authenticated endpoint", async () => {
    const endpoints = await authenticatedEndpoints();
    const { names, unreadable } = securitySuites();
    expect(endpoints).toContain("GET /api/v1/keys/{id}"); // the routes were really read
    expect(names).toContain("GET /api/v1/keys"); // and so were the suites
    expect(unreadable, "describeSecurity's first argument must be a literal route name").toEqual([]);
    const missing = endpoints.filter((e) => !names.includes(e));
    expect(missing, "add describeSecurity(\"<route>\", server, {...}) for these, in the test file of their resource").toEqual([]);
    const unknown = names.filter((n) => !endpoints.includes(n));
    expect(unknown, "these suites name no authenticated endpoint").toEqual([]);
  });

  it("cover the MCP server: each tool is an authenticated endpoint with its suite, and /api/mcp has its own", async () => {
    const endpoints = await authenticatedEndpoints();
    const { names } = securitySuites();
    for (const tool of TOOLS) {
      expect(endpoints, `${tool.name} mirrors an authenticated endpoint`).toContain(tool.mirrors);
      expect(names, `${tool.name}'s endpoint has a security suite`).toContain(tool.mirrors);
    }
    const routes = discoverRoutes().map((r) => "/" + r.segments.map((s) => (s.kind === "static" ? s.value : "{}")).join("/"));
    expect(routes).toContain("/api/mcp");
    // The MCP route authenticates before MCP and refuses per tool: tests/mcp checks each refusal the REST suites check.
    const suite = fs.readFileSync(path.join(TESTS, "mcp", "mcp.test.ts"), "utf8");
    for (const code of ["missing_api_key", "invalid_api_key", "insufficient_scope", "not_found", "rate_limited"]) expect(suite).toContain(code);
  });

  it("recognise a route's paths, and only those", () => {
    expect(pathMatches("/api/v1/instances/{id}/start", "/api/v1/instances/inst_1/start")).toBe(true);
    expect(pathMatches("/api/v1/keys", "/api/v1/keys?limit=1")).toBe(true);
    expect(pathMatches("/api/v1/instances/{id}", "/api/v1/instances/inst_1/start")).toBe(false);
    expect(pathMatches("/api/v1/keys/{id}", "/api/v1/webhooks/wh_1")).toBe(false);
  });
});
