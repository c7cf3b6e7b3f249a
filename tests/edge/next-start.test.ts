import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_METHODS } from "@/lib/http/front-door";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { client, waitForOperation } from "../support/fixtures";
import { hasProductionBuild, startNextServer, type NextServer } from "../support/next-server";
import { rawRequest, type RawResponse } from "../support/raw-http";
import { slowRequest } from "../support/slow-request";

// The production build under `next start`, spoken to with raw bytes on a
// socket, so nothing normalises the requests: every answer under /api/ is the
// API's own (problem+json with a request id, never a 5xx, never a redirect),
// and nothing is logged as a crash. Also, through the same server: a start on
// a locked database fails loudly, DATA_DIR is private, and a key revoked
// while its request's body is still arriving changes nothing.
const built = hasProductionBuild("tests/edge/next-start.test.ts (raw requests against next start)");

describe.skipIf(!built)("next start: every request under /api/ gets the API's answer", () => {
  let tmp: string;
  let server: NextServer;
  let token: string;
  const answers: { request: string; res: RawResponse }[] = [];
  const send = async (head: string, body = "") => {
    const res = await rawRequest(server.port, head, body);
    answers.push({ request: head.split("\n")[0]!, res });
    return res;
  };
  const expectProblem = (res: RawResponse, status: number, code: string) => {
    expect({ status: res.status, type: res.headers["content-type"] }).toEqual({ status, type: "application/problem+json" });
    const body = JSON.parse(res.body) as { code: string; request_id: string; status: number };
    expect(body).toMatchObject({ code, status });
    expect(body.request_id).toBe(res.headers["x-request-id"]);
    return body;
  };

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "moc-edge-"));
    server = await startNextServer({ dataDir: path.join(tmp, "data") });
    token = /moc_[0-9A-Za-z]{8}_[0-9A-Za-z]{38}/.exec(server.output().stdout)?.[0] ?? "";
    expect(token, "the demo key printed at first start").not.toBe("");
    // Start-up says which rules apply.
    const rules = server
      .output()
      .stdout.split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((entry) => typeof entry.msg === "string" && entry.msg.endsWith(" rules"));
    expect(rules).toMatchObject({ msg: "embedded rules", loopback_webhooks: "allowed" });
  }, 180_000);

  afterAll(async () => {
    await server?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("undecodable paths: 400 invalid_path (GET /api/v1/instances/%FF, the issue's input, and its kind)", async () => {
    for (const p of ["/api/v1/instances/%FF", "/api/v1/instances/%", "/api/v1/instances/%E0%A4%A", "/api/v1/instances/%C0%AF", "/api/v1/instances/%ED%A0%80", "/api/v1/%zz/account", "/api/%FF"]) {
      expectProblem(await send(`GET ${p} HTTP/1.1`), 400, "invalid_path");
    }
    // The same with a key, and with a body: still refused before anything runs.
    expectProblem(await send(`POST /api/v1/instances/%FF/start HTTP/1.1\nAuthorization: Bearer ${token}`), 400, "invalid_path");
  });

  it("methods outside the API: 405 with the route's Allow (TRACE and PROPFIND, the issue's inputs, and every other method Node parses)", async () => {
    const outside = http.METHODS.filter((m) => !API_METHODS.has(m) && m !== "CONNECT");
    expect(outside).toEqual(expect.arrayContaining(["TRACE", "PROPFIND", "MKCOL", "COPY", "MOVE", "LOCK", "PURGE"]));
    for (const m of outside) {
      const res = await send(`${m} /api/v1/account HTTP/1.1`);
      expectProblem(res, 405, "method_not_allowed");
      expect(res.headers.allow).toBe("GET, OPTIONS");
    }
    const onInstances = await send(`TRACE /api/v1/instances HTTP/1.1\nAuthorization: Bearer ${token}`);
    expectProblem(onInstances, 405, "method_not_allowed");
    expect(onInstances.headers.allow).toBe("GET, POST, OPTIONS");
    expectProblem(await send("PROPFIND /api/v1/no-such-route HTTP/1.1"), 404, "route_not_found");
    expect((await send("TRACE /api/inngest HTTP/1.1")).status).toBe(405);
    // Methods of the API a route does not take: 405 from the route itself.
    expect((await send("DELETE /api/v1/account HTTP/1.1")).headers.allow).toBe("GET, OPTIONS");
  });

  it("trailing slashes are answered as without them, never redirected (POST /api/v1/instances/, the issue's input)", async () => {
    const created = await send(`POST /api/v1/instances/ HTTP/1.1\nAuthorization: Bearer ${token}\nContent-Type: application/json`, '{"subdomain":"edge-slash"}');
    expect(created.status).toBe(202);
    expect(created.headers.location).toMatch(/\/api\/v1\/operations\/op_/);
    expect((await send("GET /api/v1/regions/ HTTP/1.1")).status).toBe(200);
    expectProblem(await send("GET /api/v1/instances/ HTTP/1.1"), 401, "missing_api_key");
    expect((await send(`GET /api/v1/instances/edge-slash/?x HTTP/1.1\nAuthorization: Bearer ${token}`)).status).toBe(400); // the unknown query parameter, not a redirect
    // Empty segments and backslashes name no route: 404, not a redirect either.
    expectProblem(await send("GET /api//v1/regions HTTP/1.1"), 404, "route_not_found");
    expectProblem(await send("GET /api/v1/instances// HTTP/1.1"), 404, "route_not_found");
    expectProblem(await send("GET /api/v1\\regions HTTP/1.1"), 404, "route_not_found");
  });

  it("the bare prefixes and unknown paths under /api: problem+json 404 (GET /api/v1, the issue's input)", async () => {
    for (const p of ["/api/v1", "/api/v1/", "/api", "/api/", "/api/v2/instances", "/api/nope"]) {
      expectProblem(await send(`GET ${p} HTTP/1.1`), 404, "route_not_found");
    }
    const head = await send("HEAD /api/v1/nope HTTP/1.1");
    expect(head.status).toBe(404);
    expect(head.headers["x-request-id"]).toMatch(/^req_/);
  });

  it("OPTIONS carries a request id (OPTIONS /api/v1/instances, the issue's input), and OPTIONS * is answered", async () => {
    const res = await send("OPTIONS /api/v1/instances HTTP/1.1");
    expect(res.status).toBe(204);
    expect(res.headers.allow).toBe("GET, POST, OPTIONS");
    expect(res.headers["x-request-id"]).toMatch(/^req_/);
    const mine = await send("OPTIONS /api/v1/account HTTP/1.1\nX-Request-Id: trace-1234567");
    expect(mine.headers["x-request-id"]).toBe("trace-1234567");
    const server = await send("OPTIONS * HTTP/1.1");
    expect(server.status).toBe(204);
    expect(server.headers.allow).toBe([...API_METHODS].join(", "));
  });

  it("odd request targets and upgrades: served by path, never redirected to the host they name, never left unanswered", async () => {
    const absolute = await send("GET http://evil.example/api/v1/regions HTTP/1.1");
    expect(absolute.status).toBe(200);
    expect(absolute.headers.location).toBeUndefined();
    expect((await send("GET http://evil.example/api/v1/regions/ HTTP/1.1")).status).toBe(200);
    const upgrade = await send("GET /api/v1/regions HTTP/1.1\nUpgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13");
    expect(upgrade.status).toBe(200);
    expectProblem(await send("GET /api/v1/account HTTP/1.1\nUpgrade: h2c\nConnection: Upgrade"), 401, "missing_api_key");
  });

  it("serves the MCP server: the SDK's client connects to /api/mcp with a key and restarts an instance", async () => {
    const api = client(server.url, token);
    const created = await api.post("/api/v1/instances", { subdomain: "edge-mcp" });
    expect(created.status).toBe(202);
    expect((await waitForOperation(api, created.body.id)).body.status).toBe("succeeded");
    const mcp = new Client({ name: "edge-test", version: "1.0.0" });
    await mcp.connect(new StreamableHTTPClientTransport(new URL("/api/mcp", server.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    try {
      const restart = await mcp.callTool({ name: "restart_instance", arguments: { instance: "edge-mcp" } });
      expect(restart.isError, JSON.stringify(restart.content)).toBeFalsy();
      const op = restart.structuredContent as { id: string; type: string };
      expect(op.type).toBe("instance.restart");
      const done = await mcp.callTool({ name: "wait_for_operation", arguments: { operation_id: op.id, timeout_seconds: 60 } });
      expect(done.structuredContent).toMatchObject({ id: op.id, status: "succeeded" });
    } finally {
      await mcp.close();
    }
    expectProblem(await send("POST /api/mcp HTTP/1.1\nContent-Type: application/json", "{}"), 401, "missing_api_key");
  });

  it("runs a server-only operator command on the server's own simulated machines (simulate, through the operator endpoint)", async () => {
    // The route that runs operator commands is bundled apart from the start-up code that built the
    // compute provider: the command must still recognise the server's simulated machines.
    const api = client(server.url, token);
    const created = await api.post("/api/v1/instances", { subdomain: "edge-simulate" });
    expect(created.status).toBe(202);
    expect((await waitForOperation(api, created.body.id)).body.status).toBe("succeeded");
    const operatorToken = fs.readFileSync(path.join(server.dataDir, "operator-token"), "utf8").trim();
    const res = await fetch(new URL("/api/operator/run", server.url), {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${operatorToken}` },
      body: JSON.stringify({ command: "simulate", args: { instance: "edge-simulate", what: "unhealthy" } }),
    });
    const body = await res.text();
    expect(res.status, body).toBe(200);
    expect(JSON.parse(body)).toMatchObject({ json: { subdomain: "edge-simulate", simulated: "unhealthy" } });
  });

  it("no answer under /api/ was a 5xx or anything but the API's own, and nothing was logged as a crash", () => {
    expect(answers.length).toBeGreaterThan(40);
    for (const { request, res } of answers) {
      expect(res.status, request).toBeLessThan(500);
      expect([301, 302, 307, 308], request).not.toContain(res.status);
      expect(res.headers["x-request-id"], request).toMatch(/\S/);
      if (res.status >= 400 && !request.startsWith("HEAD")) expect(res.headers["content-type"], request).toBe("application/problem+json");
    }
    const { stderr } = server.output();
    expect(stderr).not.toMatch(/⨯|TypeError|Internal Server Error|unhandled/i);
  });

  it("a key revoked while its request's body is still arriving commits nothing", async () => {
    const admin = client(server.url, token);
    const victim = await admin.post("/api/v1/keys", { name: "victim", scopes: ["all"] });
    expect(victim.status).toBe(201);
    // The account window counts every request of the account once it is past authentication: when it
    // drops by two between two of our own reads, the slow request has been let in.
    const accountLeft = async () => Number(/"account";r=(\d+)/.exec((await admin.get("/api/v1/account")).headers.get("ratelimit") ?? "")?.[1]);
    let last = await accountLeft();
    const slow = slowRequest(server.url, "POST", "/api/v1/keys", { authorization: `Bearer ${victim.body.token}`, "content-type": "application/json" }, '{"name":"late",');
    await expect
      .poll(async () => {
        const now = await accountLeft();
        const letIn = last - now >= 2;
        last = now;
        return letIn;
      }, { timeout: 15_000, interval: 200 })
      .toBe(true);
    expect((await admin.delete(`/api/v1/keys/${victim.body.id}`)).status).toBe(204);
    const res = await slow.finish('"scopes":["read"]}');
    expect(res.status).toBe(401);
    expect((await admin.get("/api/v1/keys")).body.map((k: { name: string }) => k.name)).not.toContain("late");
  });

  it("keeps DATA_DIR private: the folder 0700, nothing in it readable by group or others", () => {
    const mode = (p: string) => fs.statSync(p).mode & 0o777;
    expect(mode(server.dataDir).toString(8)).toBe("700");
    expect(mode(path.join(server.dataDir, "secrets.json")).toString(8)).toBe("600");
    const open: string[] = [];
    const walk = (p: string) => {
      const st = fs.lstatSync(p);
      if ((st.mode & 0o077) !== 0) open.push(`${(st.mode & 0o777).toString(8)} ${path.relative(server.dataDir, p)}`);
      if (st.isDirectory()) for (const n of fs.readdirSync(p)) walk(path.join(p, n));
    };
    walk(server.dataDir);
    expect(open).toEqual([]);
  });

  it("a second server on the same DATA_DIR does not start: it exits non-zero, naming the lock, and never serves", async () => {
    const second = await startNextServer({ dataDir: server.dataDir, waitReady: false });
    try {
      const code = await Promise.race([second.exited, new Promise((r) => setTimeout(() => r("still running"), 90_000))]);
      const { stdout, stderr } = second.output();
      expect(code).toBe(1);
      expect(stderr).toContain("DatabaseLockedError");
      expect(stderr).toContain("already open in another process");
      expect(stdout + stderr).not.toMatch(/server ready/);
      await expect(fetch(`${second.url}/api/v1/regions`)).rejects.toThrow();
    } finally {
      await second.stop();
    }
    // The first server is unaffected.
    expect((await send("GET /api/v1/regions HTTP/1.1")).status).toBe(200);
  }, 120_000);
});
