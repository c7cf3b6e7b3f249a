import { createHash, randomUUID } from "node:crypto";
import { Redis } from "@upstash/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serviceUrl } from "./services";
import { startUpstashRelay, type UpstashRelay } from "./upstash-relay";

const redisUrl = serviceUrl("tests/support/upstash-relay.test.ts (Upstash REST relay)", "REDIS_URL");
const sha1 = (s: string) => createHash("sha1").update(s).digest("hex");

describe.skipIf(!redisUrl)("Upstash REST relay in front of redis-server", () => {
  let relay: UpstashRelay;
  let client: Redis;
  const p = `relaytest:${randomUUID().slice(0, 8)}:`;
  const raw = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(relay.url + path, {
      method: "POST",
      headers: { authorization: `Bearer ${relay.token}`, "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    relay = await startUpstashRelay({ redisUrl: redisUrl!, token: "relay-token" });
    client = new Redis({ url: relay.url, token: relay.token, enableTelemetry: false, enableAutoPipelining: false });
  });
  afterAll(async () => {
    await raw("/", ["DEL", `${p}a`, `${p}h`, `${p}n`, `${p}tx`]);
    await relay?.close();
  });

  it("answers POST / with { result }, base64-encoding strings when asked", async () => {
    expect(await (await raw("/", ["SET", `${p}a`, "héllo"])).json()).toEqual({ result: "OK" });
    expect(await (await raw("/", ["GET", `${p}a`])).json()).toEqual({ result: "héllo" });
    const b64 = await (await raw("/", ["GET", `${p}a`], { "Upstash-Encoding": "base64" })).json();
    expect(b64).toEqual({ result: Buffer.from("héllo").toString("base64") });
    expect(await (await raw("/", ["INCRBY", `${p}n`, 5])).json()).toEqual({ result: 5 });
    expect(await (await raw("/", ["GET", `${p}missing`])).json()).toEqual({ result: null });
  });

  it("works for @upstash/redis (base64 by default), HGETALL included", async () => {
    await client.set(`${p}a`, "über");
    expect(await client.get(`${p}a`)).toBe("über");
    await client.hset(`${p}h`, { f1: "v1", f2: "2" });
    const flat = await (await raw("/", ["HGETALL", `${p}h`])).json();
    expect(flat).toEqual({ result: ["f1", "v1", "f2", "2"] });
    expect(await client.hgetall(`${p}h`)).toEqual({ f1: "v1", f2: 2 });
  });

  it("runs /pipeline and /multi-exec, with per-command errors", async () => {
    const pipe = client.pipeline();
    pipe.set(`${p}tx`, 1);
    pipe.incr(`${p}tx`);
    pipe.hget(`${p}a`, "nope"); // WRONGTYPE: a string, not a hash
    const res = await pipe.exec({ keepErrors: true });
    expect(res.map((r) => r.result)).toEqual(["OK", 2, undefined]);
    expect(res[2]!.error).toMatch(/WRONGTYPE/);
    const tx = client.multi();
    tx.incr(`${p}tx`);
    tx.get(`${p}tx`);
    expect(await tx.exec()).toEqual([3, 3]);
    const body = await (await raw("/multi-exec", [["INCR", `${p}tx`], ["GET", `${p}tx`]])).json();
    expect(body).toEqual([{ result: 4 }, { result: "4" }]);
  });

  it("refuses a wrong token with 401 and a refused command with 400, as { error }", async () => {
    const bad = await fetch(relay.url, { method: "POST", headers: { authorization: "Bearer nope" }, body: '["PING"]' });
    expect(bad.status).toBe(401);
    expect(await bad.json()).toEqual({ error: "Unauthorized" });
    const wrong = await raw("/", ["NOSUCHCOMMAND"]);
    expect(wrong.status).toBe(400);
    expect((await wrong.json()).error).toMatch(/unknown command/i);
    await expect(client.hget(`${p}a`, "x")).rejects.toThrow(/WRONGTYPE/);
  });

  it("strips allow-key-locking from scripts and maps the original EVALSHA hash", async () => {
    // A script this server has never seen (no SCRIPT FLUSH: other suites share the server).
    const script = `#!lua flags=allow-key-locking\n-- ${randomUUID()}\nreturn {KEYS[1], ARGV[1], 7}`;
    const hash = sha1(script);
    // The original hash is unknown...
    const unknown = await raw("/", ["EVALSHA", hash, 1, "k", "v"]);
    expect((await unknown.json()).error).toMatch(/NOSCRIPT/);
    // ...EVAL runs the rewritten script and remembers the mapping...
    expect(await client.eval(script, ["k"], ["v"])).toEqual(["k", "v", 7]);
    // ...so the original hash now works.
    expect(await client.evalsha(hash, ["k"], ["v"])).toEqual(["k", "v", 7]);
    // SCRIPT LOAD answers with the hash of what the client sent.
    const other = `#!lua flags=no-writes,allow-key-locking\n-- ${randomUUID()}\nreturn 1`;
    expect(await client.scriptLoad(other)).toBe(sha1(other));
    expect(await client.evalsha(sha1(other), [], [])).toBe(1);
  });

  it("counts requests and can be told to fail", async () => {
    relay.requests = 0;
    await client.get(`${p}a`);
    expect(relay.requests).toBe(1);
    relay.mode = "error";
    const r = await raw("/", ["PING"]);
    expect(r.status).toBe(500);
    expect(await r.json()).toHaveProperty("error");
    relay.mode = "hang";
    await expect(
      fetch(relay.url, { method: "POST", body: '["PING"]', signal: AbortSignal.timeout(200) }),
    ).rejects.toThrow();
    relay.mode = "normal";
    expect(await client.ping()).toBe("PONG");
  });
});
