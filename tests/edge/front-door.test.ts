import { describe, expect, it } from "vitest";
import { frontDoor } from "@/lib/http/front-door";
import { client } from "../support/fixtures";
import { useApiServer } from "../support/security";

// The front door's decisions on raw request lines (lib/http/front-door.ts).
// tests/edge/next-start.test.ts sends the same kinds of request to the
// production build; these run everywhere, the build or not.
describe("front door decisions", () => {
  it.each([
    ["GET", "/api/v1/instances/%FF", { kind: "answer", code: "invalid_path" }],
    ["GET", "/api/v1/%E0%A4%A", { kind: "answer", code: "invalid_path" }],
    ["POST", "/api/v1/instances/", { kind: "rewrite", url: "/api/v1/instances" }],
    ["GET", "/api/v1/operations/?status=failed", { kind: "rewrite", url: "/api/v1/operations?status=failed" }],
    ["GET", "/api/", { kind: "rewrite", url: "/api" }],
    ["GET", "/api//v1/account", { kind: "answer", code: "route_not_found" }],
    ["GET", "/api/v1\\account", { kind: "answer", code: "route_not_found" }],
    ["TRACE", "/api/v1/account", { kind: "rewrite", url: "/api/v1/account", refusedMethod: "TRACE" }],
    ["PROPFIND", "/api/v1/account/", { kind: "rewrite", url: "/api/v1/account", refusedMethod: "PROPFIND" }],
    ["GET", "http://evil.example/api/v1/regions", { kind: "rewrite", url: "/api/v1/regions" }],
    ["GET", "http://evil.example/docs", { kind: "rewrite", url: "/docs" }],
    ["OPTIONS", "*", { kind: "server-options" }],
    ["GET", "*", { kind: "answer", code: "invalid_path" }],
    ["GET", "/api/v1/account", { kind: "pass" }],
    ["GET", "/api/v1/regions?x=%FF", { kind: "pass" }],
    ["TRACE", "/docs", { kind: "pass" }],
    ["GET", "/apix/%FF", { kind: "pass" }],
  ] as const)("%s %s", (method, target, expected) => {
    const d = frontDoor(method, target);
    if ("code" in expected) expect({ kind: d.kind, code: d.kind === "answer" ? d.error.code : undefined }).toEqual(expected);
    else expect(d).toEqual(expected);
  });
});

describe("the front door in front of the API's routes (the test server runs behind it too)", () => {
  const server = useApiServer();
  it("answers an undecodable path and a refused method with problem+json", async () => {
    const api = client(server.url);
    const res = await api.raw("PROPFIND", "/api/v1/regions");
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, OPTIONS");
    expect(res.body).toMatchObject({ code: "method_not_allowed", request_id: res.headers.get("x-request-id") });
    // A client may not smuggle the front door's own header in.
    const smuggled = await api.raw("OPTIONS", "/api/v1/regions", { headers: { "x-moc-refused-method": "TRACE" } });
    expect(smuggled.status).toBe(204);
  });
});
