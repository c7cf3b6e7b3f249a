import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The API served over HTTP by an OS process of its own: the route files
 * through tests/support/api.ts's server, in a child Node process (TypeScript
 * through tsx). Several of them sharing one Postgres server and one Redis are
 * what a deployment's server instances are: nothing in memory is shared, only
 * the stores. `env` is the process's whole configuration on top of this
 * process's secrets (API_KEY_PEPPERS, ENCRYPTION_KEYS) and the database
 * driver the suite runs with (DATABASE_DRIVER, NEON_WS_PROXY).
 *
 * Run as a script, it serves on a free loopback port and prints one line,
 * `listening <url>`.
 */
export interface ApiProcess {
  url: string;
  /** What the process wrote to stderr so far (for a failure's message). */
  stderr(): string;
  stop(): Promise<void>;
}

const SELF = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SELF), "../..");
const INHERITED = ["PATH", "HOME", "TMPDIR", "API_KEY_PEPPERS", "ENCRYPTION_KEYS", "DATABASE_DRIVER", "NEON_WS_PROXY"];

export async function startApiProcess(env: Record<string, string>, timeoutMs = 60_000): Promise<ApiProcess> {
  const childEnv: Record<string, string> = { NODE_ENV: "test", LOG_LEVEL: "silent", LOCAL_PROVIDER_DELAY_MS: "0" };
  for (const k of INHERITED) if (process.env[k] !== undefined) childEnv[k] = process.env[k]!;
  Object.assign(childEnv, env);
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", SELF], { cwd: ROOT, env: childEnv as NodeJS.ProcessEnv, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
  };
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`no "listening" line within ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      void stop();
      reject(new Error(`${err.message}\n${stderr}`));
    };
    child.stdout!.setEncoding("utf8").on("data", (c: string) => {
      stdout += c;
      const m = /^listening (\S+)$/m.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once("exit", (code, signal) => fail(new Error(`the API process exited (${signal ?? code}) before it listened`)));
  });
  return { url, stderr: () => stderr, stop };
}

if (process.argv[1] === SELF) {
  const { startApiServer } = await import("./api");
  const server = await startApiServer();
  process.stdout.write(`listening ${server.url}\n`);
}
