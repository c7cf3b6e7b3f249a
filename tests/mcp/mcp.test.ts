import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { openclawVersion } from "@/db/schema";
import { MemoryRateLimiter, resetRateLimiter, setRateLimiter } from "@/lib/ratelimit";
import { client, createAccount, createKeyFor, createRunningInstance, holdOperations, uniqueSubdomain } from "../support/fixtures";
import { useApiServer } from "../support/security";

// The MCP server at /api/mcp, driven by the SDK's own client over real HTTP,
// against the same in-process API server the REST tests use.
const server = useApiServer();

const open: Client[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

async function connect(token: string): Promise<Client> {
  const mcp = new Client({ name: "mcp-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL("/api/mcp", server.url), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  await mcp.connect(transport);
  open.push(mcp);
  return mcp;
}

interface ToolAnswer {
  isError: boolean;
  /** The structured content: the resource, or the problem on an error. */
  data: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Every text the answer carries, for the secret checks. */
  text: string;
}

async function call(mcp: Client, name: string, args: Record<string, unknown> = {}): Promise<ToolAnswer> {
  const res = await mcp.callTool({ name, arguments: args });
  const content = (res.content ?? []) as { type: string; text?: string }[];
  const text = content.map((c) => c.text ?? "").join("\n");
  // Clients that read only text get the same JSON as the structured content.
  expect(JSON.parse(content[0]!.text!)).toEqual(res.structuredContent);
  return { isError: res.isError === true, data: res.structuredContent, text: text + JSON.stringify(res.structuredContent) };
}

async function succeeded(mcp: Client, operationId: string) {
  for (;;) {
    const op = await call(mcp, "wait_for_operation", { operation_id: operationId, timeout_seconds: 30 });
    expect(op.isError, op.text).toBe(false);
    if (op.data.status !== "pending" && op.data.status !== "running") return op.data;
  }
}

describe("MCP server: tools", () => {
  it("lists every tool with a description for a model, an object input schema and its annotations", async () => {
    const me = await createAccount();
    const mcp = await connect(me.token);
    const { tools } = await mcp.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    for (const name of [
      "list_instances", "get_instance", "create_instance", "start_instance", "stop_instance", "restart_instance", "delete_instance",
      "get_operation", "list_operations", "wait_for_operation",
      "get_provider", "set_provider", "get_integrations", "set_integrations", "get_agents", "set_agents",
      "list_keys", "create_key", "revoke_key", "list_webhooks", "create_webhook", "list_webhook_deliveries",
      "upgrade_instance", "list_versions", "backup_instance", "list_backups", "restore_instance",
      "rotate_webhook_secret", "redeliver_webhook_delivery", "list_events", "get_account",
    ]) {
      const t = byName.get(name);
      expect(t, name).toBeDefined();
      expect(t!.inputSchema.type).toBe("object");
      expect(t!.description).toMatch(/rate class/);
    }
    for (const name of ["delete_instance", "revoke_key", "restore_instance"]) {
      expect(byName.get(name)!.annotations).toMatchObject({ destructiveHint: true, readOnlyHint: false });
    }
    for (const name of ["list_instances", "get_instance", "get_operation", "wait_for_operation", "get_provider", "list_keys", "list_webhooks"]) {
      expect(byName.get(name)!.annotations?.readOnlyHint, name).toBe(true);
    }
    expect(byName.get("restart_instance")!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false });
    expect(byName.get("restore_instance")!.description).toMatch(/^DESTRUCTIVE/);
    // Every tool that changes something takes an optional idempotency_key; no read does.
    for (const t of tools) {
      const props = Object.keys(t.inputSchema.properties ?? {});
      expect(props.includes("idempotency_key"), t.name).toBe(t.annotations?.readOnlyHint !== true);
      expect(t.inputSchema.required ?? [], t.name).not.toContain("idempotency_key");
    }
    // Operation-starting tools say they are asynchronous; the input schemas are the REST API's.
    expect(byName.get("restart_instance")!.description).toMatch(/asynchronous.*wait_for_operation/);
    expect(Object.keys(byName.get("create_instance")!.inputSchema.properties ?? {})).toEqual(
      expect.arrayContaining(["subdomain", "fly_region", "provider", "integrations", "agents"]),
    );
  });

  it("runs an instance's lifecycle end to end: create, wait, restart, wait, delete", async () => {
    const me = await createAccount({ plan: "business", limits: { heavy: 100 } });
    const mcp = await connect(me.token);
    const subdomain = uniqueSubdomain("mcp");

    const created = await call(mcp, "create_instance", { subdomain });
    expect(created.isError, created.text).toBe(false);
    expect(created.data).toMatchObject({ type: "instance.create", status: "pending" });
    expect(created.text).toContain(`wait_for_operation with operation_id "${created.data.id}"`);
    expect(await succeeded(mcp, created.data.id)).toMatchObject({ status: "succeeded" });
    const instanceId = created.data.instance_id as string;

    const got = await call(mcp, "get_instance", { instance: subdomain });
    expect(got.data).toMatchObject({ id: instanceId, subdomain, status: "running" });

    const restart = await call(mcp, "restart_instance", { instance: instanceId });
    expect(restart.data).toMatchObject({ type: "instance.restart", instance_id: instanceId });
    expect(await succeeded(mcp, restart.data.id)).toMatchObject({ status: "succeeded" });

    // The same operations the REST API shows, through the same services.
    const api = client(server.url, me.token);
    expect((await api.get(`/api/v1/operations/${restart.data.id}`)).body.status).toBe("succeeded");
    const listed = await call(mcp, "list_operations", { instance_id: [instanceId] });
    expect(listed.data.items.map((o: { id: string }) => o.id)).toEqual([restart.data.id, created.data.id]);

    const deleted = await call(mcp, "delete_instance", { instance: instanceId });
    expect(deleted.data).toMatchObject({ type: "instance.delete" });
    expect(await succeeded(mcp, deleted.data.id)).toMatchObject({ status: "succeeded" });
    const gone = await call(mcp, "get_instance", { instance: instanceId });
    expect(gone.isError).toBe(true);
    expect(gone.data).toMatchObject({ code: "not_found", status: 404 });
  });

  it("bounds the wait: an operation that does not finish in time is answered as it stands", async () => {
    const me = await createAccount({ plan: "business", limits: { heavy: 100 } });
    const mcp = await connect(me.token);
    const held = holdOperations();
    const created = await call(mcp, "create_instance", { subdomain: uniqueSubdomain("mcp") });
    try {
      for (const timeout_seconds of [0, 1]) {
        const now = await call(mcp, "wait_for_operation", { operation_id: created.data.id, timeout_seconds });
        expect(now.isError).toBe(false);
        expect(now.data).toMatchObject({ id: created.data.id, status: "pending" });
      }
    } finally {
      await held.resume(created.data.id);
    }
    expect(await succeeded(mcp, created.data.id)).toMatchObject({ status: "succeeded" });
  });

  it("answers a problem for a state that forbids the change", async () => {
    const me = await createAccount({ plan: "business", limits: { heavy: 100 } });
    const mcp = await connect(me.token);
    const created = await call(mcp, "create_instance", { subdomain: uniqueSubdomain("mcp") });
    await succeeded(mcp, created.data.id);
    const start = await call(mcp, "start_instance", { instance: created.data.instance_id });
    expect(start.isError).toBe(true);
    expect(start.data).toMatchObject({ code: "invalid_instance_state", status: 409 });
    expect(start.data.request_id).toMatch(/^req_/);
  });

  it("turns invalid arguments into validation_error, with each field named, and changes nothing", async () => {
    const me = await createAccount();
    const mcp = await connect(me.token);
    const bad = await call(mcp, "create_instance", { subdomain: "Not A Subdomain", extra: 1 });
    expect(bad.isError).toBe(true);
    expect(bad.data.code).toBe("validation_error");
    expect(bad.data.errors.map((e: { path: string }) => e.path)).toEqual(expect.arrayContaining(["subdomain", "extra"]));
    const nul = await call(mcp, "get_instance", { instance: "a\u0000b" });
    expect(nul.data.code).toBe("validation_error");
    const wait = await call(mcp, "wait_for_operation", { operation_id: "op_x", timeout_seconds: 61 });
    expect(wait.data.code).toBe("validation_error");
    expect((await call(mcp, "list_instances")).data.items).toEqual([]);
  });
});

/** A version only this file offers (the database may be shared), to upgrade to. */
const NEXT_VERSION = `2026.${process.pid}.7-mcp`;
beforeAll(async () => {
  await (await getDb())
    .insert(openclawVersion)
    .values({ version: NEXT_VERSION, image: `ghcr.io/openclaw/openclaw:${NEXT_VERSION}`, releasedAt: new Date() })
    .onConflictDoNothing();
});

describe("MCP server: idempotency_key", () => {
  it("answers a retried change with the first call's result, shares the records with the REST API, and refuses a key reused for another change", async () => {
    const me = await createAccount({ plan: "business", limits: { heavy: 100 } });
    const mcp = await connect(me.token);
    const subdomain = uniqueSubdomain("mcp");
    const args = { subdomain, idempotency_key: `create-${subdomain}` };
    const first = await call(mcp, "create_instance", args);
    expect(first.isError, first.text).toBe(false);
    expect(first.text).not.toContain("nothing was done again");
    const again = await call(mcp, "create_instance", args);
    expect(again.isError, again.text).toBe(false);
    expect(again.data.id).toBe(first.data.id);
    expect(again.text).toContain("nothing was done again");
    await succeeded(mcp, first.data.id);
    expect((await call(mcp, "list_instances")).data.items).toHaveLength(1);

    // The REST API finds the same record: the same key, path and body replay the tool's answer.
    const id = first.data.instance_id as string;
    const restart = await call(mcp, "restart_instance", { instance: id, idempotency_key: "restart-1" });
    expect(restart.isError, restart.text).toBe(false);
    const rest = await client(server.url, me.token).post(`/api/v1/instances/${id}/restart`, undefined, { headers: { "idempotency-key": "restart-1" } });
    expect(rest.status).toBe(202);
    expect(rest.headers.get("idempotent-replayed")).toBe("true");
    expect(rest.body.id).toBe(restart.data.id);
    expect(rest.headers.get("operation-location")).toMatch(new RegExp(`^http://.+/api/v1/operations/${restart.data.id}$`));
    await succeeded(mcp, restart.data.id);

    // The same key for another change is refused, and so is a malformed key: nothing runs.
    const reused = await call(mcp, "stop_instance", { instance: id, idempotency_key: "restart-1" });
    expect(reused.data).toMatchObject({ code: "idempotency_key_reused", status: 422 });
    for (const idempotency_key of ["", "x".repeat(256), "caf\u00e9", 42]) {
      const bad = await call(mcp, "stop_instance", { instance: id, idempotency_key });
      expect(bad.data, String(idempotency_key)).toMatchObject({ code: "invalid_idempotency_key", status: 400 });
    }
    const ops = await call(mcp, "list_operations", { instance_id: [id] });
    expect(ops.data.items.map((o: { type: string }) => o.type)).toEqual(["instance.restart", "instance.create"]);
  });
});

describe("MCP server: versions, backups, webhooks, events", () => {
  it("upgrades, backs up and restores an instance, and reads versions, events and the account", async () => {
    const me = await createAccount({ plan: "business", limits: { heavy: 100 } });
    const mcp = await connect(me.token);
    const { id } = await createRunningInstance(client(server.url, me.token), uniqueSubdomain("mcp"));

    const versions = await call(mcp, "list_versions");
    expect(versions.data.items.map((v: { version: string }) => v.version)).toContain(NEXT_VERSION);
    const upgrade = await call(mcp, "upgrade_instance", { instance: id, version: NEXT_VERSION });
    expect(upgrade.data, upgrade.text).toMatchObject({ type: "instance.upgrade", target_version: NEXT_VERSION });
    expect(await succeeded(mcp, upgrade.data.id)).toMatchObject({ status: "succeeded" });
    expect((await call(mcp, "get_instance", { instance: id })).data.version).toBe(NEXT_VERSION);
    const unsupported = await call(mcp, "upgrade_instance", { instance: id, version: "1999.1.1" });
    expect(unsupported.data.code).toBe("unsupported_version");

    const backup = await call(mcp, "backup_instance", { instance: id });
    expect(backup.data, backup.text).toMatchObject({ type: "instance.backup" });
    expect(await succeeded(mcp, backup.data.id)).toMatchObject({ status: "succeeded" });
    const backups = await call(mcp, "list_backups", { instance: id });
    expect(backups.data.items).toHaveLength(1);
    expect(backups.data.items[0]).toMatchObject({ status: "ready" });
    const restore = await call(mcp, "restore_instance", { instance: id, backup_id: backups.data.items[0].id });
    expect(restore.data, restore.text).toMatchObject({ type: "instance.restore" });
    expect(await succeeded(mcp, restore.data.id)).toMatchObject({ status: "succeeded" });
    const notABackup = await call(mcp, "restore_instance", { instance: id, backup_id: "nope" });
    expect(notABackup.data.code).toBe("validation_error");

    const events = await call(mcp, "list_events", { type: ["operation.succeeded"] });
    expect(events.isError, events.text).toBe(false);
    expect(events.data.items.length).toBeGreaterThanOrEqual(4);
    const account = await call(mcp, "get_account");
    expect(account.data).toMatchObject({ plan: "business" });
  });

  it("rotates a webhook secret and redelivers a delivery, never showing a secret but the new one", async () => {
    const me = await createAccount({ plan: "business", limits: { heavy: 100 } });
    const mcp = await connect(me.token);
    const hook = await call(mcp, "create_webhook", { url: "http://127.0.0.1:9/hook", events: ["operation.succeeded"] });
    expect(hook.isError, hook.text).toBe(false);
    const rotated = await call(mcp, "rotate_webhook_secret", { webhook_id: hook.data.id });
    expect(rotated.isError, rotated.text).toBe(false);
    expect(rotated.data.secret).toMatch(/^whsec_/);
    expect(rotated.data.secret).not.toBe(hook.data.secret);
    expect(rotated.text).not.toContain(hook.data.secret);

    await createRunningInstance(client(server.url, me.token), uniqueSubdomain("mcp"));
    // The operation.succeeded event's delivery, once the job runtime has fanned it out.
    let deliveries = await call(mcp, "list_webhook_deliveries", { webhook_id: hook.data.id });
    await expect
      .poll(async () => (deliveries = await call(mcp, "list_webhook_deliveries", { webhook_id: hook.data.id })).data.items.length, { timeout: 15_000 })
      .toBeGreaterThan(0);
    const delivery = deliveries.data.items[0];
    expect(delivery, deliveries.text).toBeDefined();
    const again = await call(mcp, "redeliver_webhook_delivery", { webhook_id: hook.data.id, delivery_id: delivery.id });
    expect(again.isError, again.text).toBe(false);
    expect(again.data).toMatchObject({ id: delivery.id, status: "pending" });
    const stranger = await connect((await createAccount({ plan: "business" })).token);
    const foreign = await call(stranger, "rotate_webhook_secret", { webhook_id: hook.data.id });
    expect(foreign.data.code).toBe("not_found");
    for (const a of [again, deliveries]) {
      expect(a.text).not.toContain(hook.data.secret);
      expect(a.text).not.toContain(rotated.data.secret);
    }
  });
});

describe("MCP server: docs", () => {
  it("the reference at /docs says how to add the server to an MCP client, with this deployment's URL", async () => {
    const doc = await client(server.url).get("/api/v1/openapi.json");
    const description: string = doc.body.info.description;
    expect(description).toContain("## MCP server");
    const config = JSON.parse(/```json\n([\s\S]*?)\n```/.exec(description.slice(description.indexOf("## MCP server")))![1]!);
    expect(config.mcpServers.myopenclaw).toEqual({ type: "http", url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/api\/mcp$/), headers: { Authorization: "Bearer moc_..." } });
  });
});

describe("MCP server: security", () => {
  it("refuses a request without a key, or with a bad one, with the API's 401 before any MCP", async () => {
    const init = { jsonrpc: "2.0", id: 1, method: "tools/list", params: {} };
    for (const [authorization, code] of [
      [undefined, "missing_api_key"],
      ["Bearer moc_notakey", "invalid_api_key"],
      ["Basic abc", "invalid_api_key"],
    ] as const) {
      const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json, text/event-stream" };
      if (authorization) headers.authorization = authorization;
      const res = await fetch(new URL("/api/mcp", server.url), { method: "POST", headers, body: JSON.stringify(init) });
      expect(res.status).toBe(401);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
      const body = await res.json();
      expect(body).toMatchObject({ code, request_id: res.headers.get("x-request-id") });
    }
    // And the SDK's client cannot connect with a bad key.
    const me = await createAccount();
    await expect(connect(me.token.slice(0, -1) + (me.token.endsWith("a") ? "b" : "a"))).rejects.toThrow();
  });

  it("refuses a tool whose scope the key lacks, and runs the ones it holds", async () => {
    const me = await createAccount();
    const readOnly = await createKeyFor(me.accountId, { scopes: ["instance:read"] });
    const mcp = await connect(readOnly.token);
    const refused = await call(mcp, "create_instance", { subdomain: uniqueSubdomain("mcp") });
    expect(refused.isError).toBe(true);
    expect(refused.data).toMatchObject({ code: "insufficient_scope", status: 403, required_scope: "instance:write" });
    expect((await call(mcp, "list_keys")).data).toMatchObject({ code: "insufficient_scope", required_scope: "keys:read" });
    const listed = await call(mcp, "list_instances");
    expect(listed.isError).toBe(false);
    expect(listed.data.items).toEqual([]);
    // A key cannot mint one with more than it holds.
    const keys = await connect((await createKeyFor(me.accountId, { scopes: ["keys:write"] })).token);
    const more = await call(keys, "create_key", { name: "wider", scopes: ["all"] });
    expect(more.data).toMatchObject({ code: "insufficient_scope" });
    expect(more.data.missing_scopes).toContain("instance:write");
  });

  it("answers not_found for another account's instance and operation, never touching them", async () => {
    const owner = await createAccount({ plan: "business", limits: { heavy: 100 } });
    const { id, operationId } = await createRunningInstance(client(server.url, owner.token), uniqueSubdomain("mine"));
    const stranger = await connect((await createAccount({ plan: "business" })).token);
    for (const [tool, args] of [
      ["get_instance", { instance: id }],
      ["restart_instance", { instance: id }],
      ["delete_instance", { instance: id }],
      ["get_provider", { instance: id }],
      ["get_operation", { operation_id: operationId }],
    ] as const) {
      const res = await call(stranger, tool, args);
      expect(res.isError, tool).toBe(true);
      expect(res.data.code, tool).toBe("not_found");
    }
    expect((await client(server.url, owner.token).get(`/api/v1/instances/${id}`)).body.status).toBe("running");
  });

  it("counts a tool call like the REST request it mirrors, and answers rate_limited with when to retry", async () => {
    const me = await createAccount({ limits: { read: 6 } });
    // The limiter's clock stands still mid-minute: a read counted just before a minute turns no longer counts whole after it.
    setRateLimiter(new MemoryRateLimiter(() => Math.floor(Date.now() / 60_000) * 60_000 + 30_000));
    try {
      // An HTTP request that calls no tool counts as one read: connecting (initialize, notifications/initialized, the GET
      // for a stream, which a stateless server refuses) and listing the tools are 4, the REST request 1.
      const mcp = await connect(me.token);
      await mcp.listTools();
      expect((await client(server.url, me.token).get("/api/v1/account")).headers.get("x-ratelimit-remaining")).toBe("1");
      expect((await call(mcp, "list_instances")).isError).toBe(false);
      const limited = await call(mcp, "get_instance", { instance: "anything" });
      expect(limited.isError).toBe(true);
      expect(limited.data).toMatchObject({ code: "rate_limited", status: 429, limit: "key", rate_class: "read" });
      expect(limited.data.retry_after).toBeGreaterThan(0);
      // The REST API shares the same window, and so do messages that call no tool.
      expect((await client(server.url, me.token).get("/api/v1/instances")).status).toBe(429);
      await expect(mcp.listTools()).rejects.toThrow();
    } finally {
      resetRateLimiter();
    }
  });

  it("refuses every message of a key revoked after this process remembered it, not only tool calls", async () => {
    const me = await createAccount();
    const victim = await createKeyFor(me.accountId);
    const mcp = await connect(victim.token);
    expect((await mcp.listTools()).tools.length).toBeGreaterThan(0);
    expect((await client(server.url, me.token).delete(`/api/v1/keys/${victim.id}`)).status).toBe(204);
    await expect(mcp.listTools()).rejects.toThrow(/401|invalid_api_key/);
    const raw = await fetch(new URL("/api/mcp", server.url), {
      method: "POST",
      headers: { authorization: `Bearer ${victim.token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }),
    });
    expect(raw.status).toBe(401);
    expect((await raw.json()).code).toBe("invalid_api_key");
  });

  it("shows no secret in any tool result: no API key token but a new key's one-time one, no provider key, no webhook secret but on create", async () => {
    const me = await createAccount({ plan: "business", limits: { heavy: 100 } });
    const mcp = await connect(me.token);
    const providerKey = `sk-ant-api03-${"s".repeat(60)}Zq9`;
    const subdomain = uniqueSubdomain("mcp");
    const created = await call(mcp, "create_instance", {
      subdomain,
      provider: { provider: "anthropic", model: "claude-sonnet-4-5", api_key: providerKey },
    });
    expect(created.isError, created.text).toBe(false);
    await succeeded(mcp, created.data.id);
    const setProvider = await call(mcp, "set_provider", {
      instance: subdomain,
      document: { provider: "anthropic", model: "claude-opus-4-1", api_key: providerKey },
    });
    expect(setProvider.isError, setProvider.text).toBe(false);
    await succeeded(mcp, setProvider.data.id);

    const newKey = await call(mcp, "create_key", { name: "from-mcp", scopes: ["read"] });
    expect(newKey.data.token).toMatch(/^moc_/);
    const hook = await call(mcp, "create_webhook", { url: "http://127.0.0.1:9/hook", events: ["operation.failed"] });
    expect(hook.isError, hook.text).toBe(false);
    expect(hook.data.secret).toMatch(/^whsec_/);

    const answers = [
      created, setProvider,
      await call(mcp, "list_instances"),
      await call(mcp, "get_instance", { instance: subdomain }),
      await call(mcp, "get_provider", { instance: subdomain }),
      await call(mcp, "get_integrations", { instance: subdomain }),
      await call(mcp, "get_agents", { instance: subdomain }),
      await call(mcp, "list_operations"),
      await call(mcp, "get_operation", { operation_id: created.data.id }),
      await call(mcp, "list_keys"),
      await call(mcp, "list_webhooks"),
      await call(mcp, "list_webhook_deliveries", { webhook_id: hook.data.id }),
      await call(mcp, "revoke_key", { key_id: newKey.data.id }),
    ];
    const provider = answers[4]!;
    expect(provider.data).toMatchObject({ provider: "anthropic", model: "claude-opus-4-1", api_key: { set: true, last4: "sZq9" } });
    expect(answers[9]!.data.items.length).toBeGreaterThanOrEqual(2);
    for (const a of answers) {
      expect(a.isError, a.text).toBe(false);
      for (const secret of [me.token, providerKey, newKey.data.token, hook.data.secret]) expect(a.text).not.toContain(secret);
    }
    expect(newKey.text).not.toContain(me.token);
    expect(hook.text).not.toContain(me.token);
  });
});
