import { describe, expect, it } from "vitest";
import { ROUTE_MODULES } from "@/app/api/v1/openapi.json/routes";
import { apiRouteFiles, definedMethods, loadDocument, lower, METHODS } from "./support";

/**
 * The document and the route files cannot drift apart: every route file under
 * app/api/v1 (but the catch-all 404) is in the document with exactly the
 * methods it defines, and the document names no route that does not exist.
 */
describe("OpenAPI document vs. route files", () => {
  const files = apiRouteFiles().filter((f) => !f.catchAll);

  it("finds the route files (sanity)", () => {
    expect(files.map((f) => f.path)).toEqual(expect.arrayContaining(["/api/v1/keys", "/api/v1/keys/{id}", "/api/v1/openapi.json"]));
  });

  it("lists every route file in app/api/v1/openapi.json/routes.ts, and nothing else", () => {
    const listed = new Set(ROUTE_MODULES.map((m) => m.path));
    const missing = files
      .filter((f) => !listed.has(f.path))
      .map((f) => `  { path: "${f.path}", load: () => import("${f.specifier}") },`);
    expect(missing, `add to ROUTE_MODULES in app/api/v1/openapi.json/routes.ts:\n${missing.join("\n")}\n`).toEqual([]);
    const onDisk = new Set(files.map((f) => f.path));
    const gone = ROUTE_MODULES.filter((m) => !onDisk.has(m.path)).map((m) => m.path);
    expect(gone, "listed in routes.ts but no route file serves it").toEqual([]);
    expect(new Set(ROUTE_MODULES.map((m) => m.path)).size, "a path is listed twice").toBe(ROUTE_MODULES.length);
  });

  it("imports, for each listed path, the route file that serves it", async () => {
    for (const entry of ROUTE_MODULES) {
      const file = files.find((f) => f.path === entry.path);
      if (!file) continue; // reported above
      const [listed, direct] = [(await entry.load()) as Record<string, unknown>, (await import(file.file)) as Record<string, unknown>];
      expect(listed.OPTIONS, `${entry.path}: its load() imports another file than ${file.specifier}`).toBe(direct.OPTIONS);
    }
  });

  it("documents every method each route file defines, and only those", async () => {
    const doc = await loadDocument();
    const inFiles: string[] = [];
    for (const f of files) {
      const { mod, methods } = await definedMethods(f.file);
      for (const m of methods) {
        expect(typeof mod[m], `${f.file} defines ${m} but does not export it`).toBe("function");
        inFiles.push(`${m} ${f.path}`);
      }
    }
    const inDoc = Object.entries(doc.paths ?? {}).flatMap(([p, item]) =>
      METHODS.filter((m) => (item as Record<string, unknown>)[lower(m)]).map((m) => `${m} ${p}`),
    );
    expect(inDoc.sort()).toEqual(inFiles.sort());
  });

  it("documents the OpenAPI route itself, but not the catch-all 404", async () => {
    const doc = await loadDocument();
    expect(doc.paths?.["/api/v1/openapi.json"]?.get).toBeDefined();
    expect(Object.keys(doc.paths ?? {}).some((p) => p.includes("..."))).toBe(false);
  });
});
