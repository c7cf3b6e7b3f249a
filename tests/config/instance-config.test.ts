import { eq, is } from "drizzle-orm";
import { PgTable } from "drizzle-orm/pg-core";
import { describe, expect, it, vi } from "vitest";
import { getDb } from "@/db/client";
import * as schema from "@/db/schema";
import { createRuntime, processRuntime } from "@/inngest/runtime";
import { ComputeError, type LocalProvider, type RenderedConfig } from "@/lib/compute";
import { config, resetConfig } from "@/lib/config";
import { installDeps } from "@/lib/deps";
import { machineRef } from "@/lib/services/operation-progress";
import {
  ANTHROPIC_KEY,
  ANTHROPIC_KEY_2,
  DISCORD_TOKEN,
  OPENAI_KEY,
  SLACK_APP,
  SLACK_BOT,
  TELEGRAM_TOKEN,
  TELEGRAM_TOKEN_2,
} from "./fixtures";
import { client, createAccount, createKeyFor, createRunningInstance, holdOperations, uniqueSubdomain, waitForOperation } from "../support/fixtures";
import { describeSecurity, useApiServer } from "../support/security";

const server = useApiServer();

type Api = ReturnType<typeof client>;
type Kind = "provider" | "integrations" | "agents";

const PROVIDER = { provider: "anthropic", model: "claude-sonnet-4-5", api_key: ANTHROPIC_KEY };
const INTEGRATIONS = {
  telegram: { enabled: true, bot_token: TELEGRAM_TOKEN },
  discord: { enabled: false, bot_token: DISCORD_TOKEN },
  slack: { enabled: true, bot_token: SLACK_BOT, app_token: SLACK_APP },
};
const AGENTS = {
  agents: [
    { id: "main", name: "Ada", instructions: "Be brief." },
    { id: "research", name: "Scout", model: "claude-opus-4-1", instructions: "Cite sources." },
  ],
};

const local = () => processRuntime().deps.compute() as LocalProvider;
const quiet = { info() {}, warn() {}, error() {}, debug() {} };

async function instanceRow(id: string) {
  const db = await getDb();
  const [row] = await db.select().from(schema.instance).where(eq(schema.instance.id, id));
  return row!;
}

/** What the (simulated) machine runs now. */
async function machineConfig(id: string): Promise<RenderedConfig | null> {
  return local().lastAppliedConfig(machineRef(await instanceRow(id))!);
}

const openclawJson = (c: RenderedConfig | null) => JSON.parse(c!.files.find((f) => f.path === "/data/openclaw.json")!.content);

async function newInstance(extra: Record<string, unknown> = {}) {
  const me = await createAccount({ plan: "pro", limits: { heavy: 100 } });
  const api = client(server.url, me.token);
  const { id } = await createRunningInstance(api, uniqueSubdomain("cfg"), extra);
  return { me, api, id };
}

/** PUT a document; when it starts an operation, wait for it and answer both. */
async function put(api: Api, id: string, kind: Kind, body: unknown) {
  const res = await api.put(`/api/v1/instances/${id}/${kind}`, body);
  const op = res.status === 202 ? await waitForOperation(api, res.body.id) : null;
  return { res, op };
}

async function operationCount(api: Api, id: string) {
  return ((await api.get(`/api/v1/operations?instance_id=${id}`)).body as unknown[]).length;
}

describe("GET config documents", () => {
  it("answers the defaults of a new instance", async () => {
    const { api, id } = await newInstance();
    expect((await api.get(`/api/v1/instances/${id}/provider`)).body).toEqual({ provider: null, model: null, api_key: { set: false, last4: null } });
    expect((await api.get(`/api/v1/instances/${id}/integrations`)).body).toEqual({
      telegram: { enabled: false, bot_token: { set: false, last4: null } },
      discord: { enabled: false, bot_token: { set: false, last4: null } },
      slack: { enabled: false, bot_token: { set: false, last4: null }, app_token: { set: false, last4: null } },
    });
    const agents = await api.get(`/api/v1/instances/${id}/agents`);
    expect(agents.status).toBe(200);
    expect(agents.body).toEqual({ agents: [{ id: "main", name: "Assistant", model: null, instructions: "", default: true }] });
    // ...and the machine was provisioned with that configuration rendered, not without one.
    expect(openclawJson(await machineConfig(id)).agents.entries).toEqual({ main: { name: "Assistant", workspace: "/data/workspace-main" } });
  });

  it("addresses the instance by subdomain too, and answers 404 for an unknown one", async () => {
    const { api, id } = await newInstance();
    const sub = (await api.get(`/api/v1/instances/${id}`)).body.subdomain;
    expect((await api.get(`/api/v1/instances/${sub}/agents`)).status).toBe(200);
    const missing = await api.get("/api/v1/instances/inst_nothing/provider");
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe("not_found");
    expect((await api.put("/api/v1/instances/inst_nothing/provider", PROVIDER)).status).toBe(404);
  });
});

describe("PUT /api/v1/instances/{id}/provider", () => {
  it("answers 202 with an instance.configure operation that applies the document, after which GET shows it", async () => {
    const { api, id } = await newInstance();
    const hold = holdOperations();
    const res = await api.put(`/api/v1/instances/${id}/provider`, PROVIDER);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ type: "instance.configure", status: "pending", instance_id: id, error: null });
    expect(res.headers.get("location")).toBe(`${server.url}/api/v1/operations/${res.body.id}`);
    expect(res.headers.get("operation-location")).toBe(`${server.url}/api/v1/operations/${res.body.id}`);
    // Set in the request's own transaction; until it is applied, GET shows the previous document.
    expect((await api.get(`/api/v1/instances/${id}`)).body.status).toBe("updating");
    expect((await api.get(`/api/v1/instances/${id}/provider`)).body.provider).toBeNull();
    await hold.resume(res.body.id);

    const op = await waitForOperation(api, res.body.id);
    expect(op.body).toMatchObject({ status: "succeeded", error: null });
    expect((await api.get(`/api/v1/instances/${id}`)).body.status).toBe("running");
    expect((await api.get(`/api/v1/instances/${id}/provider`)).body).toEqual({
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      api_key: { set: true, last4: "AnT1" },
    });
    const machine = await machineConfig(id);
    expect(machine!.secrets.ANTHROPIC_API_KEY).toBe(ANTHROPIC_KEY);
    expect(openclawJson(machine).agents.defaults.model).toEqual({ primary: "anthropic/claude-sonnet-4-5" });
  });

  it("keeps the stored key when api_key is left out, and wants a new one when the provider changes", async () => {
    const { api, id } = await newInstance();
    await put(api, id, "provider", PROVIDER);
    const { op } = await put(api, id, "provider", { provider: "anthropic", model: "claude-opus-4-1" });
    expect(op!.body.status).toBe("succeeded");
    expect((await api.get(`/api/v1/instances/${id}/provider`)).body).toEqual({
      provider: "anthropic",
      model: "claude-opus-4-1",
      api_key: { set: true, last4: "AnT1" },
    });
    expect((await machineConfig(id))!.secrets.ANTHROPIC_API_KEY).toBe(ANTHROPIC_KEY);

    const switched = await api.put(`/api/v1/instances/${id}/provider`, { provider: "openai", model: "gpt-5" });
    expect(switched.status).toBe(400);
    expect(switched.body.errors).toEqual([{ path: "api_key", message: expect.stringContaining("Required when changing provider") }]);

    const { op: op2 } = await put(api, id, "provider", { provider: "openai", model: "gpt-5", api_key: OPENAI_KEY });
    expect(op2!.body.status).toBe("succeeded");
    const machine = await machineConfig(id);
    expect(machine!.secrets.OPENAI_API_KEY).toBe(OPENAI_KEY);
    expect(machine!.secrets.ANTHROPIC_API_KEY).toBeUndefined();
  });

  it("is a 200 no-op that says so when the document equals the applied one: no operation, no restart", async () => {
    const { api, id } = await newInstance();
    await put(api, id, "provider", PROVIDER);
    const before = await operationCount(api, id);
    const machineBefore = await machineConfig(id);

    for (const body of [PROVIDER, { provider: "anthropic", model: "claude-sonnet-4-5" }, { ...PROVIDER, model: " claude-sonnet-4-5 " }]) {
      const res = await api.put(`/api/v1/instances/${id}/provider`, body);
      expect(res.status).toBe(200);
      expect(res.headers.get("config-unchanged")).toBe("true");
      expect(res.body).toEqual({ provider: "anthropic", model: "claude-sonnet-4-5", api_key: { set: true, last4: "AnT1" } });
    }
    expect(await operationCount(api, id)).toBe(before);
    expect((await api.get(`/api/v1/instances/${id}`)).body.status).toBe("running");
    expect(await machineConfig(id)).toEqual(machineBefore);

    // A new key with the same last four is still a change.
    const sameLast4 = ANTHROPIC_KEY.replace("x", "z");
    const changed = await api.put(`/api/v1/instances/${id}/provider`, { ...PROVIDER, api_key: sameLast4 });
    expect(changed.status).toBe(202);
    expect(changed.headers.get("config-unchanged")).toBeNull();
    await waitForOperation(api, changed.body.id);
  });

  it("validates strictly, naming the field, and starts nothing", async () => {
    const { api, id } = await newInstance();
    const cases: [unknown, string, string][] = [
      [{ ...PROVIDER, provider: "mistral" }, "provider", "Expected one of"],
      [{ ...PROVIDER, model: "anthropic/claude-sonnet-4-5" }, "model", "without the `anthropic/` prefix"],
      [{ ...PROVIDER, api_key: OPENAI_KEY }, "api_key", "looks like an OpenAI key"],
      [{ provider: "anthropic", model: "claude-sonnet-4-5" }, "api_key", "no API key is stored"],
      [{ ...PROVIDER, temperature: 0.2 }, "temperature", "Unknown field."],
      [{ model: "claude-sonnet-4-5" }, "provider", "Required."],
    ];
    for (const [body, path, message] of cases) {
      const res = await api.put(`/api/v1/instances/${id}/provider`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.code).toBe("validation_error");
      expect(res.body.errors).toContainEqual({ path, message: expect.stringContaining(message) });
    }
    expect((await api.raw("PUT", `/api/v1/instances/${id}/provider`, { rawBody: "{not json", headers: { "content-type": "application/json" } })).status).toBe(400);
    expect(await operationCount(api, id)).toBe(1); // the create only
  });
});

describe("PUT /api/v1/instances/{id}/integrations", () => {
  it("applies the channels, shows tokens only as {set, last4}, and passes them to the machine as env", async () => {
    const { api, id } = await newInstance();
    const { res, op } = await put(api, id, "integrations", INTEGRATIONS);
    expect(res.status).toBe(202);
    expect(op!.body.status).toBe("succeeded");
    expect((await api.get(`/api/v1/instances/${id}/integrations`)).body).toEqual({
      telegram: { enabled: true, bot_token: { set: true, last4: "Tg42" } },
      discord: { enabled: false, bot_token: { set: true, last4: "Dc99" } },
      slack: { enabled: true, bot_token: { set: true, last4: "Sb01" }, app_token: { set: true, last4: "Sa02" } },
    });
    const machine = await machineConfig(id);
    expect(machine!.secrets).toMatchObject({ TELEGRAM_BOT_TOKEN: TELEGRAM_TOKEN, SLACK_BOT_TOKEN: SLACK_BOT, SLACK_APP_TOKEN: SLACK_APP });
    expect(machine!.secrets.DISCORD_BOT_TOKEN).toBeUndefined(); // disabled: not even in the environment
    expect(Object.keys(openclawJson(machine).channels).sort()).toEqual(["slack", "telegram"]);
  });

  it("replaces the document whole: a channel left out is disabled, a token left out kept, null removes it", async () => {
    const { api, id } = await newInstance();
    await put(api, id, "integrations", INTEGRATIONS);
    await put(api, id, "integrations", { telegram: { enabled: true, bot_token: TELEGRAM_TOKEN_2 }, discord: { enabled: false, bot_token: null } });
    expect((await api.get(`/api/v1/instances/${id}/integrations`)).body).toEqual({
      telegram: { enabled: true, bot_token: { set: true, last4: "Tg43" } },
      discord: { enabled: false, bot_token: { set: false, last4: null } },
      slack: { enabled: false, bot_token: { set: true, last4: "Sb01" }, app_token: { set: true, last4: "Sa02" } },
    });
    expect((await machineConfig(id))!.secrets.SLACK_BOT_TOKEN).toBeUndefined();
    // Re-enabled with the kept tokens.
    const { op } = await put(api, id, "integrations", { telegram: { enabled: true }, slack: { enabled: true } });
    expect(op!.body.status).toBe("succeeded");
    expect((await machineConfig(id))!.secrets).toMatchObject({ TELEGRAM_BOT_TOKEN: TELEGRAM_TOKEN_2, SLACK_BOT_TOKEN: SLACK_BOT });
  });

  it("validates strictly, naming the field", async () => {
    const { api, id } = await newInstance();
    const cases: [unknown, string, string][] = [
      [{ telegram: { enabled: true } }, "telegram.bot_token", "Required to enable telegram"],
      [{ slack: { enabled: true, bot_token: SLACK_APP, app_token: SLACK_APP } }, "slack.bot_token", "app-level token"],
      [{ discord: { enabled: "yes" } }, "discord.enabled", "Expected `true` or `false`."],
      [{ whatsapp: { enabled: true } }, "whatsapp", "Unknown field."],
      [{ telegram: { enabled: true, bot_token: "4242" } }, "telegram.bot_token", "@BotFather"],
    ];
    for (const [body, path, message] of cases) {
      const res = await api.put(`/api/v1/instances/${id}/integrations`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.errors).toContainEqual({ path, message: expect.stringContaining(message) });
    }
  });
});

describe("PUT /api/v1/instances/{id}/agents", () => {
  it("applies the agents: one workspace and SOUL.md each, the default owning the channels", async () => {
    const { api, id } = await newInstance();
    await put(api, id, "provider", PROVIDER);
    const { op } = await put(api, id, "agents", AGENTS);
    expect(op!.body.status).toBe("succeeded");
    expect((await api.get(`/api/v1/instances/${id}/agents`)).body).toEqual({
      agents: [
        { id: "main", name: "Ada", model: null, instructions: "Be brief.", default: true },
        { id: "research", name: "Scout", model: "claude-opus-4-1", instructions: "Cite sources.", default: false },
      ],
    });
    const machine = await machineConfig(id);
    expect(openclawJson(machine).agents.entries.research).toEqual({ name: "Scout", workspace: "/data/workspace-research", model: "anthropic/claude-opus-4-1" });
    expect(machine!.files.find((f) => f.path === "/data/workspace-research/SOUL.md")!.content).toBe("Cite sources.\n");
  });

  it("validates strictly, naming the field, and checks models against the applied provider", async () => {
    const { api, id } = await newInstance();
    await put(api, id, "provider", PROVIDER);
    const cases: [unknown, string, string][] = [
      [{ agents: [{ id: "main", name: "Ada", model: "gpt-5/x" }] }, "agents[0].model", "The instance's provider is `anthropic`."],
      [{ agents: [{ id: "a", name: "A" }, { id: "a", name: "B" }] }, "agents[1].id", "Duplicate id"],
      [{ agents: [{ id: "a", name: "A", default: true }, { id: "b", name: "B", default: true }] }, "agents[1].default", "Only one agent"],
      [{ agents: [] }, "agents", "Give at least one agent."],
      [{ agents: [{ id: "Main", name: "A" }] }, "agents[0].id", "1-32 characters"],
      [{ agents: [{ id: "a", name: "Leak ${ANTHROPIC_API_KEY}" }] }, "agents[0].name", "Must not contain `${`."],
      [{ agents: [{ id: "a", name: "A", prompt: "x" }] }, "agents[0].prompt", "Unknown field."],
    ];
    for (const [body, path, message] of cases) {
      const res = await api.put(`/api/v1/instances/${id}/agents`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.errors).toContainEqual({ path, message: expect.stringContaining(message) });
    }
  });
});

describe("applying a configuration", () => {
  it("configures a stopped instance and leaves it stopped", async () => {
    const { api, id } = await newInstance();
    const stop = await api.post(`/api/v1/instances/${id}/stop`);
    await waitForOperation(api, stop.body.id);
    const { op } = await put(api, id, "provider", PROVIDER);
    expect(op!.body.status).toBe("succeeded");
    expect((await api.get(`/api/v1/instances/${id}`)).body.status).toBe("stopped");
    expect(await local().getState(machineRef(await instanceRow(id))!)).toBe("stopped");
    expect((await machineConfig(id))!.secrets.ANTHROPIC_API_KEY).toBe(ANTHROPIC_KEY);
  });

  it("a failed apply leaves the previous configuration running and readable, and fails the operation with the reason", async () => {
    const { api, id } = await newInstance();
    await put(api, id, "provider", PROVIDER);
    const before = await machineConfig(id);

    local().failNext("applyConfig", new ComputeError("local_rejected", "the machine refused the new config", { retryable: false }));
    const { res, op } = await put(api, id, "provider", { ...PROVIDER, api_key: ANTHROPIC_KEY_2 });
    expect(res.status).toBe(202);
    expect(op!.body.status).toBe("failed");
    expect(op!.body.error).toEqual({
      code: "local_rejected",
      message: "the machine refused the new config. The new configuration was not applied; the previous one is still in place.",
    });
    expect((await api.get(`/api/v1/instances/${id}`)).body.status).toBe("running");
    expect((await api.get(`/api/v1/instances/${id}/provider`)).body.api_key).toEqual({ set: true, last4: "AnT1" });
    expect(await machineConfig(id)).toEqual(before);
  });

  it("rolls the machine back to the previous configuration when it fails after the new one was written", async () => {
    const { api, id } = await newInstance();
    await put(api, id, "integrations", INTEGRATIONS);
    const before = await machineConfig(id);

    local().failNext("waitForState", new ComputeError("local_machine_unavailable", "machine crashed on boot", { retryable: false }));
    const { op } = await put(api, id, "integrations", { telegram: { enabled: false } });
    expect(op!.body.status).toBe("failed");
    expect(op!.body.error.code).toBe("local_machine_unavailable");
    expect(op!.body.error.message).toContain("machine crashed on boot");
    expect(await machineConfig(id)).toEqual(before);
    expect((await api.get(`/api/v1/instances/${id}/integrations`)).body.telegram.enabled).toBe(true);
    expect((await api.get(`/api/v1/instances/${id}`)).body.status).toBe("running");
    // The previous document is still the applied one: PUTting it again changes nothing.
    expect((await api.put(`/api/v1/instances/${id}/integrations`, INTEGRATIONS)).status).toBe(200);
  });

  it("answers 409 operation_in_progress while another operation runs on the instance", async () => {
    const { api, id } = await newInstance();
    // A retryable fault, and a runner whose backoff waits until released: the first operation is
    // still running for as long as the test needs, however slow the machine.
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const backoffs: number[] = [];
    const sleep = async (ms: number) => {
      backoffs.push(ms);
      await released;
    };
    // A runtime of its own on the process's simulated machines, installed for this test.
    const process_ = processRuntime();
    const rt = createRuntime(config(), { compute: process_.deps.compute(), runner: { logger: quiet, sleep } });
    installDeps(rt.deps);
    try {
      local().failNext("waitForState", new ComputeError("local_wait_timeout", "not yet", { retryable: true }));
      const first = await api.put(`/api/v1/instances/${id}/provider`, PROVIDER);
      expect(first.status).toBe(202);
      await vi.waitFor(() => expect(backoffs).toHaveLength(1));
      expect((await api.get(`/api/v1/instances/${id}`)).body.status).toBe("updating");
      const second = await api.put(`/api/v1/instances/${id}/agents`, AGENTS);
      expect(second.status).toBe(409);
      expect(second.body).toMatchObject({ code: "operation_in_progress", operation_id: first.body.id });
      // While it runs, GET still shows the applied (previous) document.
      expect((await api.get(`/api/v1/instances/${id}/provider`)).body.provider).toBeNull();
      release();
      expect((await waitForOperation(api, first.body.id)).body.status).toBe("succeeded");
      expect((await api.get(`/api/v1/instances/${id}/provider`)).body.provider).toBe("anthropic");
    } finally {
      release();
      await rt.runner?.idle();
      rt.stop();
      installDeps(process_.deps);
    }
  });

  it("answers 409 invalid_instance_state for a failed instance, even for an unchanged document", async () => {
    const { api, id } = await newInstance();
    local().failNext("restart", new ComputeError("local_broken", "simulated breakage", { retryable: false }));
    const restart = await api.post(`/api/v1/instances/${id}/restart`);
    expect((await waitForOperation(api, restart.body.id)).body.status).toBe("failed");
    expect((await api.get(`/api/v1/instances/${id}`)).body.status).toBe("failed");
    for (const body of [PROVIDER, { agents: [{ id: "main", name: "Assistant" }] }]) {
      const res = await api.put(`/api/v1/instances/${id}/${"provider" in body ? "provider" : "agents"}`, body);
      expect(res.status).toBe(409);
      expect(res.body).toMatchObject({ code: "invalid_instance_state", instance_status: "failed" });
    }
  });
});

describe("POST /api/v1/instances with config documents", () => {
  it("creates a working assistant in one call", async () => {
    const { api, id } = await newInstance({ provider: PROVIDER, integrations: INTEGRATIONS, agents: AGENTS });
    expect((await api.get(`/api/v1/instances/${id}/provider`)).body).toEqual({
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      api_key: { set: true, last4: "AnT1" },
    });
    expect((await api.get(`/api/v1/instances/${id}/integrations`)).body.telegram).toEqual({ enabled: true, bot_token: { set: true, last4: "Tg42" } });
    expect((await api.get(`/api/v1/instances/${id}/agents`)).body.agents.map((a: { id: string }) => a.id)).toEqual(["main", "research"]);

    const machine = await machineConfig(id);
    expect(machine!.secrets).toMatchObject({ ANTHROPIC_API_KEY: ANTHROPIC_KEY, TELEGRAM_BOT_TOKEN: TELEGRAM_TOKEN, OPENCLAW_GATEWAY_TOKEN: expect.any(String) });
    expect(openclawJson(machine).agents.defaults.systemAgent).toEqual({ agentId: "main" });
    // What the create applied is recorded as applied: the same document again is a no-op.
    const again = await api.put(`/api/v1/instances/${id}/agents`, AGENTS);
    expect(again.status).toBe(200);
    expect(again.headers.get("config-unchanged")).toBe("true");
  });

  it("validates the documents up front, naming the field within its document, and creates nothing", async () => {
    const me = await createAccount({ limits: { heavy: 100 } });
    const api = client(server.url, me.token);
    const subdomain = uniqueSubdomain("cfgbad");
    const cases: [Record<string, unknown>, string][] = [
      [{ provider: { provider: "anthropic", model: "claude-sonnet-4-5" } }, "provider.api_key"],
      [{ provider: { ...PROVIDER, api_key: "sk-ant-short" } }, "provider.api_key"],
      [{ integrations: { telegram: { enabled: true } } }, "integrations.telegram.bot_token"],
      [{ integrations: { telegram: { enabled: true, bot_token: "nope" } } }, "integrations.telegram.bot_token"],
      [{ provider: PROVIDER, agents: { agents: [{ id: "main", name: "A", model: "gpt-5/x" }] } }, "agents.agents[0].model"],
      [{ agents: { agents: [] } }, "agents.agents"],
      [{ agents: [{ id: "main", name: "A" }] }, "agents"],
    ];
    for (const [docs, path] of cases) {
      const res = await api.post("/api/v1/instances", { subdomain, ...docs });
      expect(res.status, JSON.stringify(docs)).toBe(400);
      expect(res.body.code).toBe("validation_error");
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    }
    // Every problem at once, across documents.
    const both = await api.post("/api/v1/instances", {
      subdomain,
      provider: { provider: "anthropic", model: "claude-sonnet-4-5" },
      integrations: { discord: { enabled: true } },
    });
    expect(both.body.errors.map((e: { path: string }) => e.path)).toEqual(["provider.api_key", "integrations.discord.bot_token"]);
    expect((await api.get("/api/v1/instances")).body).toEqual([]);
  });
});

describe("secrets", () => {
  it("never appear in a response, a log line or a database column", async () => {
    const lines: string[] = [];
    const capture = (...args: unknown[]) => void lines.push(args.map(String).join(" "));
    const spies = [
      ...(["log", "info", "warn", "error", "debug"] as const).map((m) => vi.spyOn(console, m).mockImplementation(capture)),
      // lib/log.ts writes to the streams directly.
      ...([process.stdout, process.stderr] as const).map((stream) =>
        vi.spyOn(stream, "write").mockImplementation(((chunk: unknown) => (capture(String(chunk)), true)) as never),
      ),
    ];
    process.env.LOG_LEVEL = "debug";
    resetConfig();
    const responses: string[] = [];
    try {
      const me = await createAccount({ limits: { heavy: 100 } });
      const raw = client(server.url, me.token);
      const record = <T extends { text: string; headers: Headers }>(r: T) => {
        responses.push(r.text, JSON.stringify([...r.headers]));
        return r;
      };
      const api: Api = {
        ...raw,
        get: async (p, o) => record(await raw.get(p, o)),
        post: async (p, b, o) => record(await raw.post(p, b, o)),
        put: async (p, b, o) => record(await raw.put(p, b, o)),
      };

      const { id } = await createRunningInstance(api, uniqueSubdomain("secret"), { provider: PROVIDER, integrations: INTEGRATIONS });
      await put(api, id, "provider", { provider: "anthropic", model: "claude-sonnet-4-5", api_key: ANTHROPIC_KEY_2 });
      await put(api, id, "provider", { provider: "anthropic", model: "claude-sonnet-4-5", api_key: ANTHROPIC_KEY_2 }); // the no-op
      await put(api, id, "integrations", { ...INTEGRATIONS, telegram: { enabled: true, bot_token: TELEGRAM_TOKEN_2 } });
      await put(api, id, "provider", { provider: "openai", model: "gpt-5", api_key: ANTHROPIC_KEY }); // refused: wrong vendor
      local().failNext("applyConfig", new ComputeError("local_rejected", "refused", { retryable: false }));
      await put(api, id, "provider", { provider: "openai", model: "gpt-5", api_key: OPENAI_KEY }); // failed apply
      for (const kind of ["provider", "integrations", "agents"]) await api.get(`/api/v1/instances/${id}/${kind}`);
      await api.get(`/api/v1/operations?instance_id=${id}`);

      const gatewayToken = (await machineConfig(id))!.secrets.OPENCLAW_GATEWAY_TOKEN!;
      const secrets = [ANTHROPIC_KEY, ANTHROPIC_KEY_2, OPENAI_KEY, TELEGRAM_TOKEN, TELEGRAM_TOKEN_2, DISCORD_TOKEN, SLACK_BOT, SLACK_APP, gatewayToken];

      const db = await getDb();
      const tables: Record<string, unknown[]> = {};
      for (const [name, table] of Object.entries(schema)) if (is(table, PgTable)) tables[name] = await db.select().from(table);
      const dump = JSON.stringify(tables);

      // The checks below would pass vacuously on empty input: make sure each saw the real thing.
      expect(responses.join("\n")).toContain('"last4":"AnT2"');
      expect(lines.join("\n")).toContain(`/api/v1/instances/${id}/provider`);
      expect(JSON.stringify(tables.instanceConfig)).toContain('"sealed":"v1.');
      expect(JSON.stringify(tables.operation)).toContain('"sealed":"v1.');
      for (const s of secrets) {
        expect(responses.join("\n"), "a response").not.toContain(s);
        expect(lines.join("\n"), "a log line").not.toContain(s);
        expect(dump, "a database column").not.toContain(s);
      }
    } finally {
      for (const s of spies) s.mockRestore();
      process.env.LOG_LEVEL = "silent";
      resetConfig();
    }
  });
});

describe("scopes", () => {
  it("a key with only provider:read reads the provider, and nothing else of the configuration", async () => {
    const { me, id } = await newInstance();
    const key = await createKeyFor(me.accountId, { scopes: ["provider:read"] });
    const api = client(server.url, key.token);
    expect((await api.get(`/api/v1/instances/${id}/provider`)).status).toBe(200);
    for (const [method, kind, scope] of [
      ["GET", "integrations", "integrations:read"],
      ["GET", "agents", "agents:read"],
      ["PUT", "provider", "provider:write"],
    ] as const) {
      const res = await api.raw(method, `/api/v1/instances/${id}/${kind}`, { body: method === "PUT" ? PROVIDER : undefined });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ code: "insufficient_scope", required_scope: scope });
    }
  });
});

const withInstance = async (o: { token: string }) => (await createRunningInstance(client(server.url, o.token), uniqueSubdomain("cfgsec"))).id;
const BODIES: Record<Kind, unknown> = { provider: PROVIDER, integrations: INTEGRATIONS, agents: AGENTS };
const documentSecurity = (method: "GET" | "PUT", kind: Kind) => ({
  method,
  scope: `${kind}:${method === "GET" ? "read" : "write"}` as const,
  ownsResource: true,
  body: method === "PUT" ? BODIES[kind] : undefined,
  path: async (o: { token: string }) => `/api/v1/instances/${await withInstance(o)}/${kind}`,
});
describeSecurity("GET /api/v1/instances/{id}/provider", server, documentSecurity("GET", "provider"));
describeSecurity("PUT /api/v1/instances/{id}/provider", server, documentSecurity("PUT", "provider"));
describeSecurity("GET /api/v1/instances/{id}/integrations", server, documentSecurity("GET", "integrations"));
describeSecurity("PUT /api/v1/instances/{id}/integrations", server, documentSecurity("PUT", "integrations"));
describeSecurity("GET /api/v1/instances/{id}/agents", server, documentSecurity("GET", "agents"));
describeSecurity("PUT /api/v1/instances/{id}/agents", server, documentSecurity("PUT", "agents"));
