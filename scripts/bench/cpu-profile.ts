/**
 * Where a server's CPU goes, from a V8 CPU profile (`node --cpu-prof`, which
 * `npm run bench -- --cpu-prof` turns on): self time by component (Next.js,
 * drizzle-orm, pg, @upstash/redis, the project's own code, Node core, GC, ...),
 * by source file and by function.
 *
 *   npx tsx scripts/bench/cpu-profile.ts <file.cpuprofile> [--top 25]
 *
 * The production build's server chunks are minified bundles: a frame in
 * `.next/server/chunks/*.js` is mapped back to its original file through the
 * chunk's source map (`<chunk>.js.map`, read with node:module's SourceMap), so
 * `lib/http/route.ts` and `node_modules/pg/lib/client.js` are told apart.
 *
 * `summarise(profile, windows)` counts only samples inside the given windows
 * (microseconds on the monotonic clock, which V8's profile timestamps and
 * `process.hrtime` share on Linux), so the bench can split one profile into
 * its authenticated and bare phases.
 */
import fs from "node:fs";
import { SourceMap } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }; children?: number[] }[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** A span of the monotonic clock, in microseconds. */
export interface Window {
  startUs: number;
  endUs: number;
}

export interface Frame {
  /** Coarse owner: "next", "pg", "drizzle-orm", "app", "node", "(garbage collector)", ... */
  component: string;
  /** The original file (a package name's file, or a path in the repository). */
  file: string;
  /** function name @ file:line */
  fn: string;
}

export interface Summary {
  /** Sampled time inside the windows, idle excluded, in microseconds. */
  busyUs: number;
  idleUs: number;
  byComponent: Map<string, number>;
  /**
   * Like byComponent, but time in Node itself (core modules, native code such as
   * a socket's writev) is charged to the nearest caller outside Node: fetch
   * under @upstash/redis is the Redis client's, a socket write under pg is pg's.
   */
  byOwner: Map<string, number>;
  byFile: Map<string, number>;
  byFunction: Map<string, number>;
}

const SPECIAL = new Set(["(idle)", "(program)", "(garbage collector)", "(root)"]);
/** Components charged to their caller in `byOwner`. */
const NODE_ITSELF = new Set(["node", "node: web streams", "(native)"]);

/** "node_modules/@upstash/redis/x.js" -> "@upstash/redis"; "next/dist/compiled/x/..." is next's own. */
function packageOf(p: string): string | undefined {
  const i = p.lastIndexOf("node_modules/");
  if (i < 0) return undefined;
  const parts = p.slice(i + "node_modules/".length).split("/");
  return parts[0]!.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0];
}

/** A component for an original file path relative to the repository (or a package path). */
function componentOf(file: string): string {
  const pkg = packageOf(file);
  if (pkg) return pkg;
  if (file.startsWith("next/turbopack-runtime/")) return "next";
  if (file.startsWith("node:internal/deps/undici")) return "node: undici (fetch, Request, Response)";
  if (file.startsWith("node:internal/webstreams")) return "node: web streams";
  if (file.startsWith("node:")) return "node";
  if (/^(lib|app|db|inngest)\//.test(file)) return "app (lib/, app/, db/)";
  return file === "" ? "(native)" : "other";
}

/** Resolves frames to original files, reading each chunk's source map once. */
export class FrameResolver {
  private readonly maps = new Map<string, SourceMap | null>();
  private readonly files = new Map<string, boolean>();

  private exists(file: string): boolean {
    if (!this.files.has(file)) this.files.set(file, fs.existsSync(path.join(this.root, file)));
    return this.files.get(file)!;
  }

  constructor(private readonly root: string) {}

  private mapFor(file: string): SourceMap | null {
    if (!this.maps.has(file)) {
      let map: SourceMap | null = null;
      try {
        map = new SourceMap(JSON.parse(fs.readFileSync(`${file}.map`, "utf8")));
      } catch {
        map = null;
      }
      this.maps.set(file, map);
    }
    return this.maps.get(file)!;
  }

  resolve(cf: CpuProfile["nodes"][number]["callFrame"]): Frame {
    const name = cf.functionName || "(anonymous)";
    if (SPECIAL.has(name) && !cf.url) return { component: name === "(root)" ? "(program)" : name, file: name, fn: name };
    if (!cf.url) return { component: "(native)", file: "(native)", fn: name };
    if (cf.url.startsWith("node:")) return { component: componentOf(cf.url), file: cf.url, fn: `${name} @ ${cf.url}:${cf.lineNumber + 1}` };
    const abs = cf.url.startsWith("file://") ? fileURLToPath(cf.url) : cf.url;
    let file = path.relative(this.root, abs);
    let line = cf.lineNumber + 1;
    let fnName = name;
    if (/\.next\/server\//.test(abs)) {
      const entry = this.mapFor(abs)?.findEntry(cf.lineNumber, cf.columnNumber) as
        | { originalSource?: string; originalLine?: number; name?: string }
        | Record<string, never>
        | undefined;
      if (entry && "originalSource" in entry && entry.originalSource) {
        const src = decodeURIComponent(entry.originalSource.replace(/^file:\/\//, ""));
        file = src.startsWith("turbopack:") ? `next/turbopack-runtime/${src.replace(/^turbopack:\/*(\[turbopack\]\/)?/, "")}` : path.relative(this.root, path.resolve(path.dirname(abs), src));
        // A package's own source map ("../src/x.ts") loses its folder: take the package from the chunk's name.
        const fromChunk = /^node_modules_(@[^_]+_[^_]+|[^_@]+)_/.exec(path.basename(abs))?.[1]?.replace("_", "/");
        const claimed = packageOf(file);
        if (claimed && !this.exists(`node_modules/${claimed}`)) {
          const rest = file.replace(/^.*?node_modules\//, "");
          file = fromChunk && this.exists(`node_modules/${fromChunk}`) ? `node_modules/${fromChunk}/${rest}` : `node_modules/(a package)/${rest}`;
        }
        line = (entry.originalLine ?? 0) + 1;
        if (entry.name) fnName = entry.name;
      }
    }
    const pkg = packageOf(file);
    const shortFile = pkg ? `${pkg}/${file.slice(file.lastIndexOf(pkg) + pkg.length + 1)}` : file;
    return { component: componentOf(file), file: shortFile, fn: `${fnName} @ ${shortFile}:${line}` };
  }
}

const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);

/** Self time inside `windows` (all of the profile when omitted), by component, file and function. */
export function summarise(profile: CpuProfile, resolver: FrameResolver, windows?: Window[]): Summary {
  const frames = new Map<number, Frame>();
  const parents = new Map<number, number>();
  for (const n of profile.nodes) {
    frames.set(n.id, resolver.resolve(n.callFrame));
    for (const c of n.children ?? []) parents.set(c, n.id);
  }
  const owners = new Map<number, string>();
  const ownerOf = (id: number): string => {
    let o = owners.get(id);
    if (o === undefined) {
      const c = frames.get(id)!.component;
      const parent = parents.get(id);
      o = !NODE_ITSELF.has(c) ? c : parent === undefined ? c : ownerOf(parent) === "(program)" ? c : ownerOf(parent);
      owners.set(id, o);
    }
    return o;
  };
  const out: Summary = { busyUs: 0, idleUs: 0, byComponent: new Map(), byOwner: new Map(), byFile: new Map(), byFunction: new Map() };
  const sorted = windows ? [...windows].sort((a, b) => a.startUs - b.startUs) : undefined;
  let t = profile.startTime;
  let w = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    // A sample stands for the time until the next one.
    const dt = profile.timeDeltas[i + 1] ?? 0;
    if (sorted) {
      while (w < sorted.length && sorted[w]!.endUs < t) w++;
      if (w >= sorted.length || sorted[w]!.startUs > t) continue;
    }
    const f = frames.get(profile.samples[i]!)!;
    if (f.component === "(idle)") {
      out.idleUs += dt;
      continue;
    }
    out.busyUs += dt;
    add(out.byComponent, f.component, dt);
    add(out.byOwner, ownerOf(profile.samples[i]!), dt);
    add(out.byFile, f.file, dt);
    add(out.byFunction, f.fn, dt);
  }
  return out;
}

/** Whether the windows fall inside the profile's own time span (the clocks agree). */
export function windowsInside(profile: CpuProfile, windows: Window[]): boolean {
  return windows.length > 0 && windows.every((w) => w.startUs >= profile.startTime && w.endUs <= profile.endTime);
}

export const top = (m: Map<string, number>, n: number) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);

/**
 * Markdown tables of CPU per request for each side, by component, and the top
 * functions and files of `focus`. With `cpuMsPerRequest` (the CPU time the
 * bench measured from /proc for the same runs), each share of the sampled time
 * is scaled to it: the sampler counts the wall time between two samples, which
 * on a busy machine includes time the thread waited for a core, so its totals
 * run high while its shares hold.
 */
export function perRequestTables(
  sides: { label: string; summary: Summary; requests: number; cpuMsPerRequest?: number }[],
  focus: string,
  n = 15,
): string {
  const lines: string[] = [];
  const scale = (s: (typeof sides)[number]) => {
    const sampledPerRequest = s.summary.busyUs / Math.max(1, s.requests);
    return s.cpuMsPerRequest !== undefined && sampledPerRequest > 0 ? (1000 * s.cpuMsPerRequest) / sampledPerRequest : 1;
  };
  const per = (s: (typeof sides)[number], us: number) => (s.requests > 0 ? ((us / s.requests) * scale(s)).toFixed(0) : "-");
  const f = sides.find((s) => s.label === focus) ?? sides[0]!;
  const unit = sides.every((s) => s.cpuMsPerRequest !== undefined) ? "µs/request (measured CPU, split as sampled)" : "µs/request (sampled)";
  const table = (title: string, pick: (s: Summary) => Map<string, number>) => {
    const keys = new Set<string>();
    for (const s of sides) for (const k of pick(s.summary).keys()) keys.add(k);
    const rows = [...keys].sort((a, b) => (pick(f.summary).get(b) ?? 0) - (pick(f.summary).get(a) ?? 0));
    lines.push(`| ${title} | ${sides.map((s) => `${s.label}, ${unit}`).join(" | ")} |`);
    lines.push(`|---|${sides.map(() => "---:").join("|")}|`);
    for (const c of rows) {
      const cells = sides.map((s) => per(s, pick(s.summary).get(c) ?? 0));
      if (cells.every((x) => x === "0" || x === "-")) continue;
      lines.push(`| ${c} | ${cells.join(" | ")} |`);
    }
    lines.push(`| **total** | ${sides.map((s) => `**${per(s, s.summary.busyUs)}**`).join(" | ")} |`);
  };
  table("owner (Node's own time charged to its caller)", (s) => s.byOwner);
  lines.push("");
  table("component (self time)", (s) => s.byComponent);
  const share = (v: number) => `${((100 * v) / f.summary.busyUs).toFixed(1)} %`;
  lines.push("", `Top functions by self time, ${f.label}:`, "", `| function | ${unit} | share |`, "|---|---:|---:|");
  for (const [k, v] of top(f.summary.byFunction, n)) lines.push(`| \`${k}\` | ${per(f, v)} | ${share(v)} |`);
  lines.push("", `Top files by self time, ${f.label}:`, "", `| file | ${unit} | share |`, "|---|---:|---:|");
  for (const [k, v] of top(f.summary.byFile, n)) lines.push(`| \`${k}\` | ${per(f, v)} | ${share(v)} |`);
  return lines.join("\n");
}

// As a command: summarise a whole profile.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith("--"));
  const n = Number(args[args.indexOf("--top") + 1]) || 25;
  if (!file || args.includes("--help")) {
    console.log("usage: npx tsx scripts/bench/cpu-profile.ts <file.cpuprofile> [--top 25]");
    process.exit(file ? 0 : 1);
  }
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
  const profile = JSON.parse(fs.readFileSync(file, "utf8")) as CpuProfile;
  const s = summarise(profile, new FrameResolver(root));
  const ms = (us: number) => (us / 1000).toFixed(1);
  console.log(`${ms(s.busyUs)} ms busy, ${ms(s.idleUs)} ms idle over ${ms(profile.endTime - profile.startTime)} ms`);
  for (const [title, m] of [["owner", s.byOwner], ["component", s.byComponent], ["file", s.byFile], ["function", s.byFunction]] as const) {
    console.log(`\n| ${title} | self ms | share |\n|---|---:|---:|`);
    for (const [k, v] of top(m, n)) console.log(`| \`${k}\` | ${ms(v)} | ${((100 * v) / s.busyUs).toFixed(1)} % |`);
  }
}
