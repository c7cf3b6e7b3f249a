import { afterEach, describe, expect, it, vi } from "vitest";
import { resetConfig } from "@/lib/config";
import { log } from "@/lib/log";

// lib/log.ts: JSON lines, by level to stdout or stderr, LOG_LEVEL honoured, secret fields redacted.

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, "write").mockImplementation(((chunk: unknown) => (out.push(String(chunk)), true)) as never);
  vi.spyOn(process.stderr, "write").mockImplementation(((chunk: unknown) => (err.push(String(chunk)), true)) as never);
  return { out, err, lines: (list: string[]) => list.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

function level(value: string) {
  process.env.LOG_LEVEL = value;
  resetConfig();
}

afterEach(() => {
  vi.restoreAllMocks();
  level("silent");
});

describe("the log", () => {
  it("writes one JSON line per event: debug and info to stdout, warn and error to stderr", () => {
    level("debug");
    const c = capture();
    log.debug("d");
    log.info("request", { request_id: "req_1", status: 200 });
    log.warn("w", { n: 1 });
    log.error("e");
    expect(c.out.every((l) => l.endsWith("\n") && l.indexOf("\n") === l.length - 1)).toBe(true);
    expect(c.lines(c.out)).toEqual([
      { level: "debug", time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/), msg: "d" },
      { level: "info", time: expect.any(String), request_id: "req_1", status: 200, msg: "request" },
    ]);
    expect(c.lines(c.err)).toEqual([
      { level: "warn", time: expect.any(String), n: 1, msg: "w" },
      { level: "error", time: expect.any(String), msg: "e" },
    ]);
  });

  it("leaves out what is below LOG_LEVEL, and everything when it is silent", () => {
    level("warn");
    const c = capture();
    log.info("quiet");
    log.error("loud");
    expect(c.out).toEqual([]);
    expect(c.lines(c.err).map((l) => l.msg)).toEqual(["loud"]);
    level("silent");
    log.error("not even this");
    expect(c.err).toHaveLength(1);
  });

  it("redacts fields named like secrets, and a headers object's credentials", () => {
    level("info");
    const c = capture();
    log.info("call", { token: "tok-123456", api_key: "sk-xyz", headers: { authorization: "Bearer moc_abc", cookie: "s=1", accept: "*/*" }, key_id: "key_1" });
    const [line] = c.lines(c.out);
    expect(line).toMatchObject({ token: "[redacted]", api_key: "[redacted]", headers: { authorization: "[redacted]", cookie: "[redacted]", accept: "*/*" }, key_id: "key_1" });
    expect(c.out.join("")).not.toMatch(/tok-123456|moc_abc|sk-xyz/);
  });
});
