import { describe, expect, it } from "vitest";
import { client, createAccount } from "../support/fixtures";
import { useApiServer } from "../support/security";

const server = useApiServer();

describe("the request wrapper", () => {
  it("answers every request with an X-Request-Id, and keeps a sane one the caller sent", async () => {
    const me = await createAccount();
    const api = client(server.url, me.token);
    const mine = await api.get("/api/v1/account", { headers: { "x-request-id": "trace-1234-abcd" } });
    expect(mine.headers.get("x-request-id")).toBe("trace-1234-abcd");
    const bad = await api.get("/api/v1/account", { headers: { "x-request-id": "<script>" } });
    expect(bad.headers.get("x-request-id")).toMatch(/^req_[0-9a-f]{32}$/);
    const anon = await client(server.url).get("/api/v1/instances");
    expect(anon.body.request_id).toBe(anon.headers.get("x-request-id"));
  });

  it("refuses a body over 64 KiB with 413, whether it says its length or streams it", async () => {
    const api = client(server.url, (await createAccount()).token);
    const big = JSON.stringify({ name: "x".repeat(70_000), scopes: ["read"] });
    const res = await api.raw("POST", "/api/v1/keys", { rawBody: big, headers: { "content-type": "application/json" } });
    expect(res.status).toBe(413);
    expect(res.body.code).toBe("payload_too_large");
    const streamed = await fetch(`${server.url}/api/v1/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${(await createAccount()).token}`, "content-type": "application/json" },
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < 20; i++) c.enqueue(new TextEncoder().encode(" ".repeat(5000)));
          c.close();
        },
      }),
      // @ts-expect-error Node's fetch needs this for a streamed body
      duplex: "half",
    });
    expect(streamed.status).toBe(413);
  });

  it("refuses malformed JSON (400), unknown fields (400) and a wrong content type (415)", async () => {
    const api = client(server.url, (await createAccount()).token);
    const malformed = await api.raw("POST", "/api/v1/keys", { rawBody: '{"name": "x",', headers: { "content-type": "application/json" } });
    expect(malformed).toMatchObject({ status: 400, body: { code: "malformed_json" } });
    const unknown = await api.post("/api/v1/keys", { name: "x", scopes: ["read"], admin: true });
    expect(unknown).toMatchObject({ status: 400, body: { code: "validation_error", errors: [{ path: "admin", message: "Unknown field." }] } });
    const form = await api.raw("POST", "/api/v1/keys", { rawBody: "name=x", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(form).toMatchObject({ status: 415, body: { code: "unsupported_media_type" } });
    const vendor = await api.raw("POST", "/api/v1/keys", { rawBody: '{"name":"x","scopes":["read"]}', headers: { "content-type": "application/vnd.api+json; charset=utf-8" } });
    expect(vendor.status).toBe(201);
  });

  it("accepts a body-less POST however it is sent, as curl -X POST does", async () => {
    const api = client(server.url, (await createAccount({ limits: { heavy: 100 } })).token);
    const noType = await api.raw("POST", "/api/v1/instances/nope/restart", {});
    expect(noType.body.code).toBe("not_found");
    const emptyJson = await api.raw("POST", "/api/v1/instances/nope/restart", { rawBody: "{}", headers: { "content-type": "application/json" } });
    expect(emptyJson.body.code).toBe("not_found");
    const withBody = await api.raw("POST", "/api/v1/instances/nope/restart", { rawBody: '{"force": true}', headers: { "content-type": "application/json" } });
    expect(withBody.body.code).toBe("validation_error");
  });

  it("answers unknown routes with a problem+json 404 and wrong methods with 405 and Allow", async () => {
    const api = client(server.url, (await createAccount()).token);
    for (const path of ["/api/v1/nothing", "/api/v1/instances/x/y/z", "/api/v1/keys/x/y"]) {
      const res = await api.get(path);
      expect(res.status, path).toBe(404);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(res.body.code).toBe("route_not_found");
    }
    const wrong = await api.raw("PATCH", "/api/v1/instances");
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("GET, POST, OPTIONS");
    expect(wrong.body.code).toBe("method_not_allowed");
    const options = await api.raw("OPTIONS", "/api/v1/keys/key_x");
    expect(options.status).toBe(204);
    expect(options.headers.get("allow")).toBe("GET, DELETE, OPTIONS");
  });
});
