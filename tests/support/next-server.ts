import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { freePort } from "./services";

export { hasProductionBuild } from "./services";

const ROOT = path.resolve(import.meta.dirname, "../..");
const NEXT_BIN = path.join(ROOT, "node_modules", "next", "dist", "bin", "next");

export interface NextServer {
  url: string;
  port: number;
  dataDir: string;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): { stdout: string; stderr: string };
  /** Resolves with the exit code (or signal) once the process has ended. */
  exited: Promise<number | string>;
  stop(): Promise<void>;
}

/** Settings that would point the server at real services or change its rules: the test decides them. */
const SERVICE_SETTINGS = /^(DATABASE_|UPSTASH_|INNGEST_|FLY_|NEON_|REDIS_URL$|TEST_POSTGRES_URL$)/;
const RULE_SETTINGS = ["INSTANCE_PROVIDER", "REQUIRE_SERVICES", "VERCEL", "PUBLIC_BASE_URL", "ALLOW_LOOPBACK_WEBHOOKS", "TRUST_FORWARDED_HOST", "API_KEY_PEPPERS", "ENCRYPTION_KEYS"];

/**
 * `next start` on 127.0.0.1 and a free port, as its own process, embedded
 * unless `env` says otherwise. `waitReady: false` returns at once (for a start
 * that is meant to fail).
 */
export async function startNextServer(opts: { dataDir: string; env?: Record<string, string>; waitReady?: boolean; timeoutMs?: number }): Promise<NextServer> {
  const port = await freePort();
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) if (!SERVICE_SETTINGS.test(k) && !RULE_SETTINGS.includes(k)) env[k] = v;
  Object.assign(env, {
    NODE_ENV: "production",
    NEXT_TELEMETRY_DISABLED: "1",
    DATA_DIR: opts.dataDir,
    PORT: String(port),
    LOCAL_PROVIDER_DELAY_MS: "0",
    LOG_LEVEL: "info",
    ...opts.env,
  });
  let stdout = "";
  let stderr = "";
  const child: ChildProcess = spawn(process.execPath, [NEXT_BIN, "start", "-H", "127.0.0.1", "-p", String(port)], {
    cwd: ROOT,
    env: env as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr!.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")));
  const server: NextServer = {
    url: `http://127.0.0.1:${port}`,
    port,
    dataDir: opts.dataDir,
    output: () => ({ stdout, stderr }),
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
  if (opts.waitReady === false) return server;
  // Next.js listens at once and holds requests until it has started (instrumentation included).
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`next start exited (${child.exitCode}) before it was ready:\n${stderr || stdout}`);
    try {
      const res = await fetch(`${server.url}/api/v1/regions`, { signal: AbortSignal.timeout(5000) });
      if (res.ok) return server;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`next start did not answer within ${opts.timeoutMs ?? 120_000} ms:\n${stderr || stdout}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
