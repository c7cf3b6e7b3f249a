import { describe, expect, it } from "vitest";
import { client, createAccount, createRunningInstance, uniqueSubdomain } from "../support/fixtures";
import { useApiServer } from "../support/security";

// Hostnames are case-insensitive (RFC 4343): wherever a subdomain addresses an
// instance, any capitalisation of it does.
const server = useApiServer();

describe("subdomains in lookups are case-insensitive", () => {
  it("GET /instances/My-Assistant finds my-assistant (the issue's input), and so does every route that takes one", async () => {
    const me = await createAccount({ plan: "business", limits: { heavy: 100 } });
    const api = client(server.url, me.token);
    const subdomain = `my-assistant-${uniqueSubdomain("x").slice(2)}`;
    const { id, operationId } = await createRunningInstance(api, subdomain);
    const mixed = subdomain.replace("my-assistant", "My-Assistant");

    const got = await api.get(`/api/v1/instances/${mixed}`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id, subdomain });
    expect((await api.get(`/api/v1/instances/${subdomain.toUpperCase()}`)).body.id).toBe(id);
    expect((await api.get(`/api/v1/instances/${mixed}/provider`)).status).toBe(200);
    expect((await api.get(`/api/v1/operations?instance_id=${mixed}`)).body.map((o: { id: string }) => o.id)).toEqual([operationId]);
    const restart = await api.post(`/api/v1/instances/${subdomain.toUpperCase()}/restart`);
    expect(restart.status).toBe(202);
    expect(restart.body.instance_id).toBe(id);
  });

  it("still refuses to create an instance under a name that differs only in case from a live one", async () => {
    const me = await createAccount({ plan: "business", limits: { heavy: 100 } });
    const api = client(server.url, me.token);
    const subdomain = uniqueSubdomain("case");
    await createRunningInstance(api, subdomain);
    // New subdomains are written lowercase (DESIGN 3.7); an uppercase one is a validation error, never a second instance.
    const dup = await api.post("/api/v1/instances", { subdomain: subdomain.toUpperCase() });
    expect(dup.status).toBe(400);
    expect((await api.get("/api/v1/instances")).body).toHaveLength(1);
  });
});
