/**
 * The stores' side of `npm run bench -- --shape production`, run as a child
 * process of the bench (its own event loop, so the delays are not held up by
 * the load generator):
 *
 *   server --pg--> delay proxy --> Postgres server
 *   server --HTTP (Upstash REST)--> delay proxy --> Upstash REST relay --> redis-server
 *
 * The relay is the tests' one (tests/support/upstash-relay.ts). The delay sits
 * between the server and the relay, so each Redis command the server sends (one
 * HTTP request, pipelined or not) pays 2 x delay; the relay reaches Redis
 * without added delay.
 *
 * Started with `fork()` and the environment below; talks over the IPC channel:
 * it sends `{ type: "ready", ... }` once listening, answers `{ type: "stats" }`
 * with the counters, takes `{ type: "delay", ms }`, and closes everything on
 * `{ type: "close" }` or when the channel closes.
 *
 * Environment: BENCH_STORES_PG (host:port of the Postgres server),
 * BENCH_STORES_REDIS (redis:// URL), BENCH_STORES_DELAY_MS, BENCH_STORES_TOKEN.
 */
import { startUpstashRelay } from "../../tests/support/upstash-relay";
import { startDelayProxy, type DelayProxyStats } from "./delay-proxy";

export interface StoresReady {
  type: "ready";
  /** Port of the proxy in front of Postgres. */
  pgPort: number;
  /** http://127.0.0.1:<port> of the proxy in front of the relay: the server's UPSTASH_REDIS_REST_URL. */
  redisRestUrl: string;
  /** The relay itself, without delay (for setup). */
  relayUrl: string;
}

export interface StoresStats {
  type: "stats";
  pg: DelayProxyStats;
  redis: DelayProxyStats;
  /** HTTP requests the relay answered (each is one Redis round trip for the server). */
  relayRequests: number;
}

export type StoresCommand = { type: "stats" } | { type: "delay"; ms: number } | { type: "close" };

async function main() {
  const [pgHost, pgPort] = (process.env.BENCH_STORES_PG ?? "127.0.0.1:5432").split(":");
  const redisUrl = process.env.BENCH_STORES_REDIS ?? "redis://127.0.0.1:6379";
  const delayMs = Number(process.env.BENCH_STORES_DELAY_MS ?? "2");
  const relay = await startUpstashRelay({ redisUrl, token: process.env.BENCH_STORES_TOKEN });
  const relayPort = Number(new URL(relay.url).port);
  const pg = await startDelayProxy({ target: { host: pgHost!, port: Number(pgPort) }, delayMs });
  const redis = await startDelayProxy({ target: { host: "127.0.0.1", port: relayPort }, delayMs });

  let closing = false;
  const close = async () => {
    if (closing) return;
    closing = true;
    await Promise.allSettled([pg.close(), redis.close(), relay.close()]);
    process.exit(0);
  };
  process.on("disconnect", () => void close());
  process.on("message", (msg: StoresCommand) => {
    if (msg.type === "stats") {
      const out: StoresStats = { type: "stats", pg: pg.stats(), redis: redis.stats(), relayRequests: relay.requests };
      process.send!(out);
    } else if (msg.type === "delay") {
      pg.delayMs = msg.ms;
      redis.delayMs = msg.ms;
      process.send!({ type: "delay", ms: msg.ms });
    } else if (msg.type === "close") void close();
  });
  const ready: StoresReady = { type: "ready", pgPort: pg.port, redisRestUrl: `http://127.0.0.1:${redis.port}`, relayUrl: relay.url };
  process.send!(ready);
}

main().catch((err) => {
  console.error(`bench stores: ${err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
