import net from "node:net";

/**
 * A TCP proxy that stands for a network between the server and one store
 * (Postgres, or the Upstash REST relay): every chunk, in both directions, is
 * passed on `delayMs` milliseconds after it arrived, in the order it arrived.
 * A request/response exchange through it therefore pays 2 x delayMs.
 *
 * It also counts round trips: per connection, a client->server burst followed
 * by a server->client burst is one round trip (a burst being any number of
 * chunks in one direction before the other direction speaks). Chunks are
 * counted when they reach the proxy, before the delay.
 *
 * Used by scripts/bench.ts (`--shape production`); plain node:net, loopback.
 */
export interface DelayProxyOptions {
  /** Where connections are forwarded. */
  target: { host: string; port: number };
  /** Milliseconds each chunk waits, each way; may be changed later through `delayMs`. */
  delayMs: number;
  /** Listen address; port 0 (the default) picks a free one. */
  host?: string;
  port?: number;
  /** Runs `fn` after `ms`; setTimeout by default (tests inject their own clock: `schedule` and `now`). */
  schedule?: (fn: () => void, ms: number) => void;
  /** Milliseconds on a monotonic clock; performance.now by default. */
  now?: () => number;
}

export interface DelayProxyStats {
  /** Connections accepted since start. */
  connections: number;
  /** Client->server bursts answered by a server->client burst, since start. */
  roundTrips: number;
  /** Bytes received from clients / from the target, since start. */
  bytesUp: number;
  bytesDown: number;
}

export interface DelayProxy {
  readonly host: string;
  readonly port: number;
  /** The delay applied to chunks arriving from now on. */
  delayMs: number;
  stats(): DelayProxyStats;
  /** Stops listening and destroys every open connection. */
  close(): Promise<void>;
}

type Direction = "up" | "down";

/**
 * A one-way lane: chunks leave `delayMs` after they arrived, oldest first.
 * Chunks that arrive while older ones wait queue behind them, so the order is
 * kept even when the delay changes between two chunks.
 */
class Lane {
  private readonly queue: { due: number; chunk: Buffer | null }[] = [];
  private armed = false;

  constructor(
    private readonly out: net.Socket,
    private readonly delay: () => number,
    private readonly schedule: (fn: () => void, ms: number) => void,
    private readonly now: () => number,
  ) {}

  /** `null` ends the lane (the sender closed its side) once everything before it has left. */
  push(chunk: Buffer | null): void {
    const ms = this.delay();
    if (ms <= 0 && this.queue.length === 0) return this.emit(chunk);
    this.queue.push({ due: this.now() + ms, chunk });
    this.arm();
  }

  private arm(): void {
    if (this.armed || this.queue.length === 0) return;
    this.armed = true;
    this.schedule(() => this.flush(), Math.max(0, this.queue[0]!.due - this.now()));
  }

  private flush(): void {
    this.armed = false;
    const now = this.now();
    while (this.queue.length > 0 && this.queue[0]!.due <= now + 0.05) this.emit(this.queue.shift()!.chunk);
    this.arm();
  }

  private emit(chunk: Buffer | null): void {
    if (this.out.destroyed) return;
    if (chunk === null) this.out.end();
    else this.out.write(chunk);
  }
}

export async function startDelayProxy(opts: DelayProxyOptions): Promise<DelayProxy> {
  const schedule = opts.schedule ?? ((fn, ms) => void setTimeout(fn, ms));
  const now = opts.now ?? (() => performance.now());
  const sockets = new Set<net.Socket>();
  const totals: DelayProxyStats = { connections: 0, roundTrips: 0, bytesUp: 0, bytesDown: 0 };

  const proxy = {
    host: opts.host ?? "127.0.0.1",
    port: 0,
    delayMs: opts.delayMs,
    stats: () => ({ ...totals }),
    close: async () => {},
  };
  const delay = () => proxy.delayMs;

  // Half-open: a side that finished sending may still receive what is queued for it.
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    totals.connections += 1;
    client.setNoDelay(true);
    const upstream = net.connect({ host: opts.target.host, port: opts.target.port, allowHalfOpen: true });
    upstream.setNoDelay(true);
    sockets.add(client).add(upstream);
    const up = new Lane(upstream, delay, schedule, now);
    const down = new Lane(client, delay, schedule, now);
    let last: Direction | undefined;

    client.on("data", (chunk: Buffer) => {
      totals.bytesUp += chunk.length;
      last = "up";
      up.push(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      totals.bytesDown += chunk.length;
      if (last === "up") totals.roundTrips += 1;
      last = "down";
      down.push(chunk);
    });
    // A side that finished (FIN, or closed without one) ends the other once the chunks queued for it have left.
    let clientDone = false;
    let upstreamDone = false;
    const clientFinished = () => {
      if (!clientDone) up.push(null);
      clientDone = true;
    };
    const upstreamFinished = () => {
      if (!upstreamDone) down.push(null);
      upstreamDone = true;
    };
    client.on("end", clientFinished);
    upstream.on("end", upstreamFinished);
    client.on("close", () => {
      clientFinished();
      sockets.delete(client);
    });
    upstream.on("close", () => {
      upstreamFinished();
      sockets.delete(upstream);
    });
    // A reset: the pair goes at once.
    const teardown = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", teardown);
    upstream.on("error", teardown);
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, proxy.host, () => resolve());
  });
  proxy.port = (server.address() as net.AddressInfo).port;
  proxy.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return proxy;
}
