import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

/**
 * Runs the built `moc` (cli/bin/moc.js, the package's bin, which starts
 * cli/dist/main.js) as a subprocess, the way a shell or a
 * CI job does. Always asynchronous: the API server of a test file lives in the
 * test's own process and must go on answering while moc waits.
 */
export const ROOT = path.resolve(import.meta.dirname, "../..");
const BIN = path.join(ROOT, "cli", "bin", "moc.js");
const MAIN = path.join(ROOT, "cli", "dist", "main.js");

/** What the build reads: newer than the build, and dist/ is stale. */
function newestSource(): number {
  const files = [path.join(ROOT, "cli", "tsconfig.json"), path.join(ROOT, "cli", "package.json"), path.join(ROOT, "examples", "client", "schema.d.ts")];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(dir, e.name));
      else files.push(path.join(dir, e.name));
    }
  };
  walk(path.join(ROOT, "cli", "src"));
  return Math.max(...files.map((f) => fs.statSync(f).mtimeMs));
}

/**
 * Compiles cli/src to cli/dist with the package's own build script (the one
 * `npm install` runs), unless dist/ is newer than every source, as it is in CI
 * right after `npm ci`.
 */
export async function buildCli(): Promise<void> {
  const built = fs.existsSync(MAIN) ? fs.statSync(MAIN).mtimeMs : 0;
  if (built > newestSource()) return;
  await promisify(execFile)(process.execPath, [path.join(ROOT, "cli", "scripts", "build.mjs")], { cwd: path.join(ROOT, "cli"), timeout: 120_000 });
}

export interface MocResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (for --json); throws with the output when it is not. */
  json<T = any>(): T; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface MocOptions {
  /** MOC_API_KEY; left out, the variable is unset. */
  key?: string;
  /** MOC_BASE_URL; left out, the variable is unset. */
  baseUrl?: string;
  /** Written to stdin, then closed (stdin is always a pipe here, never a terminal). */
  input?: string;
  /** The user's config folder (XDG_CONFIG_HOME); a fresh empty one when left out. */
  configHome?: string;
  env?: Record<string, string>;
}

const temporary: string[] = [];

/** A fresh folder to stand for a user's XDG_CONFIG_HOME (removed by removeTemporaryFolders). */
export function tempConfigHome(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "moc-cli-config-"));
  temporary.push(dir);
  return dir;
}

export function removeTemporaryFolders(): void {
  for (const dir of temporary.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

export function moc(args: string[], opts: MocOptions = {}): Promise<MocResult> {
  const configHome = opts.configHome ?? tempConfigHome();
  const env = {
    PATH: process.env.PATH,
    HOME: configHome,
    XDG_CONFIG_HOME: configHome,
    ...(opts.key !== undefined ? { MOC_API_KEY: opts.key } : {}),
    ...(opts.baseUrl !== undefined ? { MOC_BASE_URL: opts.baseUrl } : {}),
    ...opts.env,
  } as unknown as NodeJS.ProcessEnv;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({
        code,
        stdout,
        stderr,
        json() {
          try {
            return JSON.parse(stdout);
          } catch {
            throw new Error(`moc ${args.join(" ")} printed no JSON (exit ${code}):\n${stdout}\n${stderr}`);
          }
        },
      });
    });
    child.stdin.end(opts.input ?? "");
  });
}
