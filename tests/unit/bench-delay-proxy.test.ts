import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { startDelayProxy, type DelayProxy } from "../../scripts/bench/delay-proxy";

/**
 * The delay proxy of `npm run bench -- --shape production`: bytes and order
 * kept both ways, nothing passed on before its delay (on an injected clock),
 * round trips counted as a client burst answered by a server burst, and a
 * half-closed client still receiving its answer.
 */

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

/** A server that answers each chunk with `reply(chunk)`; `end` closes its side after answering. */
async function upstream(reply: (chunk: Buffer) => Buffer | string, opts: { endAfterFirst?: boolean } = {}) {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on("data", (c: Buffer) => {
      s.write(reply(c));
      if (opts.endAfterFirst) s.end();
    });
    s.on("end", () => s.end());
    s.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  closers.push(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as net.AddressInfo).port;
}

async function proxyTo(port: number, extra: Partial<Parameters<typeof startDelayProxy>[0]> = {}): Promise<DelayProxy> {
  const p = await startDelayProxy({ target: { host: "127.0.0.1", port }, delayMs: 0, ...extra });
  closers.push(() => p.close());
  return p;
}

async function connect(port: number): Promise<net.Socket> {
  const s = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true });
  await new Promise<void>((r, j) => s.once("connect", r).once("error", j));
  closers.push(async () => void s.destroy());
  return s;
}

/** Reads from `s` until `n` bytes have arrived. */
function readBytes(s: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const got: Buffer[] = [];
    let len = 0;
    const onData = (c: Buffer) => {
      got.push(c);
      len += c.length;
      if (len >= n) {
        s.off("data", onData);
        resolve(Buffer.concat(got));
      }
    };
    s.on("data", onData).once("error", reject);
  });
}

describe("the benchmark's delay proxy", () => {
  it("passes every byte through both ways, in order", async () => {
    const proxy = await proxyTo(await upstream((c) => c)); // echo
    const s = await connect(proxy.port);
    const sent = Buffer.concat(Array.from({ length: 200 }, (_, i) => Buffer.from(`chunk-${i};`)));
    const echoed = readBytes(s, sent.length);
    for (let i = 0; i < 200; i++) s.write(`chunk-${i};`);
    expect((await echoed).toString()).toBe(sent.toString());
    expect(proxy.stats().bytesUp).toBe(sent.length);
    expect(proxy.stats().bytesDown).toBe(sent.length);
  });

  it("holds each chunk until its delay has passed on the clock, each way", async () => {
    let clock = 0;
    const timers: { at: number; fn: () => void }[] = [];
    const fire = (until: number) => {
      clock = until;
      const due = timers.filter((t) => t.at <= until);
      timers.splice(0, timers.length, ...timers.filter((t) => t.at > until));
      for (const t of due) t.fn();
    };
    const proxy = await proxyTo(await upstream((c) => c.toString().toUpperCase()), {
      delayMs: 2,
      now: () => clock,
      schedule: (fn, ms) => void timers.push({ at: clock + ms, fn }),
    });
    const s = await connect(proxy.port);
    const received: string[] = [];
    s.on("data", (c: Buffer) => received.push(c.toString()));
    s.write("ping");
    await until(() => proxy.stats().bytesUp === 4);
    fire(1.9); // not yet: the request is still in the proxy
    await settle();
    expect(proxy.stats().bytesDown).toBe(0);
    fire(2); // passed on to the server, which answers at once; the answer now waits its own 2 ms
    await until(() => proxy.stats().bytesDown === 4);
    fire(3.9);
    await settle();
    expect(received).toEqual([]);
    fire(4);
    await until(() => received.length > 0);
    expect(received.join("")).toBe("PING");
  });

  it("counts a client burst answered by a server burst as one round trip", async () => {
    const proxy = await proxyTo(await upstream((c) => (c.toString().endsWith("!") ? "ok" : Buffer.alloc(0))));
    const s = await connect(proxy.port);
    for (let i = 0; i < 3; i++) {
      const answer = readBytes(s, 2);
      s.write("part-one,"); // two chunks up before the answer: still one burst
      await until(() => proxy.stats().bytesUp === (i + 1) * 9 + i * 1);
      s.write("!");
      await answer;
    }
    expect(proxy.stats().roundTrips).toBe(3);
    expect(proxy.stats().connections).toBe(1);
  });

  it("delivers the answer to a client that already closed its sending side", async () => {
    const proxy = await proxyTo(await upstream(() => "bye", { endAfterFirst: true }), { delayMs: 1 });
    const s = await connect(proxy.port);
    const ended = new Promise<void>((r) => s.once("end", r));
    const answer = readBytes(s, 3);
    s.end("last words");
    expect((await answer).toString()).toBe("bye");
    await ended;
  });
});

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  expect(cond()).toBe(true);
}
/** Lets pending socket events run (a few turns of the event loop). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}
