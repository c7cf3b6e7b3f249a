import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { processRuntime } from "@/inngest/runtime";
import { hasInstalledDeps } from "@/lib/deps";
import { handleAtFrontDoor } from "@/lib/http/front-door";

/**
 * The API's route files served over real HTTP, as Next.js would route them:
 * static segments before [param] before [...catchAll]. Tests talk to it with
 * fetch, like any client; no handler is called directly.
 */
type Segment =
  | { kind: "static"; value: string }
  | { kind: "param"; name: string }
  | { kind: "catchAll"; name: string }
  | { kind: "optionalCatchAll"; name: string };
interface RouteFile {
  segments: Segment[];
  file: string;
}

const APP_DIR = path.resolve(import.meta.dirname, "../../app");

export function discoverRoutes(dir = path.join(APP_DIR, "api")): RouteFile[] {
  const out: RouteFile[] = [];
  const walk = (d: string, segs: Segment[]) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      if (entry.isDirectory()) {
        const n = entry.name;
        const seg: Segment = n.startsWith("[[...")
          ? { kind: "optionalCatchAll", name: n.slice(5, -2) }
          : n.startsWith("[...")
          ? { kind: "catchAll", name: n.slice(4, -1) }
          : n.startsWith("[")
            ? { kind: "param", name: n.slice(1, -1) }
            : { kind: "static", value: n };
        walk(path.join(d, n), [...segs, seg]);
      } else if (entry.name === "route.ts") {
        out.push({ segments: [{ kind: "static", value: "api" }, ...segs], file: path.join(d, entry.name) });
      }
    }
  };
  walk(dir, []);
  return out;
}

function match(route: RouteFile, parts: string[]): Record<string, string | string[]> | null {
  const params: Record<string, string | string[]> = {};
  for (let i = 0; i < route.segments.length; i++) {
    const seg = route.segments[i]!;
    if (seg.kind === "catchAll" || seg.kind === "optionalCatchAll") {
      if (seg.kind === "catchAll" && i >= parts.length) return null;
      params[seg.name] = parts.slice(i);
      return params;
    }
    const part = parts[i];
    if (part === undefined) return null;
    if (seg.kind === "static" && seg.value !== part) return null;
    if (seg.kind === "param") params[seg.name] = part;
  }
  return route.segments.length === parts.length ? params : null;
}

const RANK = { static: "0", param: "1", catchAll: "2", optionalCatchAll: "3" } as const;
const rank = (r: RouteFile) => r.segments.map((s) => RANK[s.kind]).join("");

export interface TestServer {
  url: string;
  close(): Promise<void>;
}

/**
 * Serves the route files on a free port. The services' events go to the
 * process's runtime (inngest/runtime.ts, embedded: the in-process runner),
 * unless the test installed its own Deps first (tests/webhooks/harness.ts).
 */
export async function startApiServer(): Promise<TestServer> {
  if (!hasInstalledDeps()) processRuntime();
  const routes = discoverRoutes().sort((a, b) => rank(a).localeCompare(rank(b)));
  const modules = new Map<string, Record<string, unknown>>();
  const load = async (file: string) => {
    if (!modules.has(file)) modules.set(file, (await import(file)) as Record<string, unknown>);
    return modules.get(file)!;
  };
  const server = http.createServer(async (req, res) => {
    // What Next.js serves sits behind the front door (installed by instrumentation.ts): so does this.
    if (handleAtFrontDoor(req, res)) return;
    try {
      const url = new URL(req.url ?? "/", `http://${req.headers.host}`);
      const parts = url.pathname.split("/").filter(Boolean);
      let found: { route: RouteFile; params: Record<string, string | string[]> } | undefined;
      for (const r of routes) {
        const params = match(r, parts);
        if (params) {
          found = { route: r, params };
          break;
        }
      }
      if (!found) {
        res.writeHead(404).end("no route file");
        return;
      }
      const mod = await load(found.route.file);
      const method = req.method ?? "GET";
      const handler = (mod[method] ?? (method === "HEAD" ? mod.GET : undefined)) as
        | ((r: Request, c: { params: Promise<Record<string, string | string[]>> }) => Promise<Response>)
        | undefined;
      if (!handler) {
        res.writeHead(405).end();
        return;
      }
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) {
        if (Array.isArray(v)) v.forEach((x) => headers.append(k, x));
        else if (v !== undefined) headers.set(k, v);
      }
      const hasBody = method !== "GET" && method !== "HEAD";
      const request = new Request(url, {
        method,
        headers,
        body: hasBody ? (req as unknown as ReadableStream) : undefined,
        // @ts-expect-error Node's fetch needs this for streamed request bodies
        duplex: "half",
      });
      // Next.js hands params over URL-encoded, as they appear in the path.
      const response = await handler(request, { params: Promise.resolve(found.params) });
      const outHeaders: Record<string, string> = {};
      response.headers.forEach((v, k) => (outHeaders[k] = v));
      res.writeHead(response.status, outHeaders);
      if (response.body && method !== "HEAD") res.end(Buffer.from(await response.arrayBuffer()));
      else res.end();
    } catch (err) {
      res.writeHead(599, { "content-type": "text/plain" }).end(`test server: ${String((err as Error)?.stack ?? err)}`);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
