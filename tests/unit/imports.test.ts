import fs from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

// The house's layering, checked on the source: services, jobs and the durable
// functions import one way only (lib/ never reaches inngest/; the composition
// root in inngest/runtime.ts hands lib what it needs), so no import circle
// forms between them. Imports are read with TypeScript's own pre-processor:
// static, type-only, re-exports and dynamic import() alike.

const ROOT = path.resolve(import.meta.dirname, "../..");
const LAYERS = ["lib", "inngest", "db", "instrumentation.ts"];

function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    if (fs.statSync(p).isDirectory()) {
      for (const e of fs.readdirSync(p)) if (e !== "migrations") walk(path.join(p, e));
    } else if (/\.tsx?$/.test(p)) out.push(p);
  };
  for (const l of LAYERS) if (fs.existsSync(path.join(ROOT, l))) walk(path.join(ROOT, l));
  return out;
}

function resolveImport(from: string, spec: string): string | null {
  const base = spec.startsWith("@/") ? path.join(ROOT, spec.slice(2)) : spec.startsWith(".") ? path.resolve(path.dirname(from), spec) : null;
  if (!base) return null; // a package
  return [`${base}.ts`, `${base}.tsx`, path.join(base, "index.ts")].find((c) => fs.existsSync(c)) ?? null;
}

/** Each file's imports within the project, as paths relative to the root. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles()) {
    const { importedFiles } = ts.preProcessFile(fs.readFileSync(file, "utf8"), true, true);
    const targets = importedFiles.map((f) => resolveImport(file, f.fileName)).filter((f): f is string => f !== null);
    graph.set(path.relative(ROOT, file), [...new Set(targets.map((t) => path.relative(ROOT, t)))]);
  }
  return graph;
}

/** The strongly connected components with more than one file (Tarjan): each is an import circle. */
function circles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe("imports", () => {
  const graph = importGraph();

  it("reads the graph it checks (the composition root imports the functions, which import services)", () => {
    expect(graph.get("inngest/runtime.ts")).toContain("inngest/functions/index.ts");
    expect(graph.get("inngest/functions/run-operation.ts")).toEqual(expect.arrayContaining([expect.stringMatching(/^lib\/services\//)]));
    expect(circles(new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]]))).toEqual([["a", "b", "c"]]);
  });

  it("form no circle in lib/, inngest/ and db/", () => {
    expect(circles(graph)).toEqual([]);
  });

  it("never lead from lib/ or db/ into inngest/", () => {
    const wrong = [...graph].flatMap(([file, targets]) =>
      /^(lib|db)\//.test(file) ? targets.filter((t) => t.startsWith("inngest/")).map((t) => `${file} -> ${t}`) : [],
    );
    expect(wrong).toEqual([]);
  });
});
