import { describe, expect, it } from "vitest";
import { ApiError, type FieldError } from "@/lib/errors";
import { toStored } from "@/lib/openclaw/documents";
import { MAX_AGENTS, MAX_INSTRUCTIONS_CHARS } from "@/lib/schemas/config";
import {
  ANTHROPIC_KEY,
  DISCORD_TOKEN,
  GOOGLE_AUTH_KEY,
  GOOGLE_KEY,
  OPENAI_KEY,
  OPENROUTER_KEY,
  SLACK_APP,
  SLACK_BOT,
  TELEGRAM_TOKEN,
} from "./fixtures";

/** The `{path, message}` list of the validation error `fn` throws. */
function errorsOf(fn: () => unknown): FieldError[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe("validation_error");
    expect((err as ApiError).status).toBe(400);
    return (err as ApiError).extra.errors as FieldError[];
  }
  throw new Error("expected a validation error, none was thrown");
}

const paths = (fn: () => unknown) => errorsOf(fn).map((e) => e.path);

const provider = (body: unknown) => toStored("provider", body, null);
const integrations = (body: unknown) => toStored("integrations", body, null);
const agents = (body: unknown) => toStored("agents", body, null);

describe("provider document", () => {
  it.each([
    ["anthropic", "claude-sonnet-4-5", ANTHROPIC_KEY],
    ["openai", "gpt-5", OPENAI_KEY],
    ["google", "gemini-2.5-pro", GOOGLE_KEY],
    ["google", "gemini-2.5-flash", GOOGLE_AUTH_KEY],
    ["openrouter", "anthropic/claude-sonnet-4", OPENROUTER_KEY],
    ["openrouter", "meta-llama/llama-3.1-8b-instruct:free", OPENROUTER_KEY],
    ["openai", "ft:gpt-4o-mini:acme::abc123", OPENAI_KEY],
  ])("accepts %s with model %s", (p, model, key) => {
    const stored = provider({ provider: p, model, api_key: key });
    expect(stored).toMatchObject({ provider: p, model, api_key: { last4: key.slice(-4) } });
  });

  it("trims a pasted key and model", () => {
    const stored = provider({ provider: "anthropic", model: " claude-sonnet-4-5 ", api_key: `${ANTHROPIC_KEY}\n` });
    expect(stored.model).toBe("claude-sonnet-4-5");
    expect(stored.api_key.last4).toBe(ANTHROPIC_KEY.slice(-4));
  });

  it("names an unknown field", () => {
    expect(errorsOf(() => provider({ provider: "anthropic", model: "claude-sonnet-4-5", api_key: ANTHROPIC_KEY, temperature: 1 }))).toEqual([
      { path: "temperature", message: "Unknown field." },
    ]);
  });

  it("refuses a provider outside the enum, naming the choices", () => {
    const [e] = errorsOf(() => provider({ provider: "mistral", model: "mistral-large", api_key: "sk-" + "a".repeat(30) }));
    expect(e).toEqual({ path: "provider", message: "Expected one of: anthropic, openai, google, openrouter." });
  });

  it("says which fields are missing", () => {
    expect(errorsOf(() => provider({}))).toEqual([
      { path: "provider", message: "Required." },
      { path: "model", message: "Required." },
    ]);
  });

  it.each([
    ["", "Give a model id"],
    ["   ", "Give a model id"],
    ["claude sonnet", "A model id is letters"],
    ["claude-sonnet-4-5; rm -rf /", "A model id is letters"],
    ["x".repeat(129), "At most 128 characters"],
    ["anthropic/claude-sonnet-4-5", "without the `anthropic/` prefix"],
    ["openai/gpt-5", "has no slash"],
  ])("refuses model %j", (model, message) => {
    const [e] = errorsOf(() => provider({ provider: "anthropic", model, api_key: ANTHROPIC_KEY }));
    expect(e!.path).toBe("model");
    expect(e!.message).toContain(message);
  });

  it("wants vendor/model for openrouter", () => {
    const [e] = errorsOf(() => provider({ provider: "openrouter", model: "claude-sonnet-4", api_key: OPENROUTER_KEY }));
    expect(e).toMatchObject({ path: "model", message: expect.stringContaining("`vendor/model`") });
  });

  it.each([
    ["anthropic", OPENAI_KEY, "looks like an OpenAI key"],
    ["openai", ANTHROPIC_KEY, "looks like an Anthropic key"],
    ["openai", OPENROUTER_KEY, "looks like an OpenRouter key"],
    ["openrouter", OPENAI_KEY, "looks like an OpenAI key"],
    ["google", ANTHROPIC_KEY, "looks like an Anthropic key"],
    ["anthropic", "sk-ant-short", "starts with `sk-ant-`"],
    ["anthropic", "hunter2hunter2hunter2hunter2", "starts with `sk-ant-`"],
    ["google", "AIzaTooShort", "starts with `AIza` or `AQ.`"],
    ["openrouter", "sk-or-v1-", "starts with `sk-or-`"],
  ])("refuses a %s api_key that is not one", (p, key, message) => {
    const model = p === "openrouter" ? "anthropic/claude-sonnet-4" : "some-model";
    const errors = errorsOf(() => provider({ provider: p, model, api_key: key }));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ path: "api_key", message: expect.stringContaining(message) });
    // the message never repeats the key
    expect(JSON.stringify(errors)).not.toContain(key);
  });

  it("refuses an empty api_key rather than reading it as 'keep'", () => {
    const [e] = errorsOf(() => provider({ provider: "anthropic", model: "claude-sonnet-4-5", api_key: "" }));
    expect(e).toMatchObject({ path: "api_key", message: expect.stringContaining("Leave the field out") });
  });

  it("refuses a non-object body", () => {
    expect(paths(() => provider([]))).toEqual([""]);
    expect(paths(() => provider(null))).toEqual([""]);
  });
});

describe("integrations document", () => {
  const full = {
    telegram: { enabled: true, bot_token: TELEGRAM_TOKEN },
    discord: { enabled: true, bot_token: DISCORD_TOKEN },
    slack: { enabled: true, bot_token: SLACK_BOT, app_token: SLACK_APP },
  };

  it("accepts every channel with its tokens", () => {
    const stored = integrations(full);
    expect(stored.telegram).toMatchObject({ enabled: true, bot_token: { last4: "Tg42" } });
    expect(stored.discord).toMatchObject({ enabled: true, bot_token: { last4: "Dc99" } });
    expect(stored.slack).toMatchObject({ enabled: true, bot_token: { last4: "Sb01" }, app_token: { last4: "Sa02" } });
  });

  it("treats a channel left out as disabled", () => {
    expect(integrations({})).toEqual({
      telegram: { enabled: false, bot_token: null },
      discord: { enabled: false, bot_token: null },
      slack: { enabled: false, bot_token: null, app_token: null },
    });
  });

  it("names unknown fields at any depth", () => {
    expect(paths(() => integrations({ whatsapp: { enabled: true } }))).toEqual(["whatsapp"]);
    expect(paths(() => integrations({ telegram: { enabled: true, bot_token: TELEGRAM_TOKEN, token: "x" } }))).toEqual(["telegram.token"]);
  });

  it("wants `enabled` stated", () => {
    expect(errorsOf(() => integrations({ telegram: { bot_token: TELEGRAM_TOKEN } }))).toEqual([{ path: "telegram.enabled", message: "Required." }]);
    expect(paths(() => integrations({ telegram: { enabled: "yes" } }))).toEqual(["telegram.enabled"]);
  });

  it.each([
    ["telegram", "bot_token", "4242", "@BotFather"],
    ["telegram", "bot_token", `abc:${"A".repeat(35)}`, "@BotFather"],
    ["telegram", "bot_token", `123456789:${"A".repeat(34)}`, "@BotFather"],
    ["discord", "bot_token", "not-a-token", "three dot-separated parts"],
    ["discord", "bot_token", `Bot ${DISCORD_TOKEN}`, "without the `Bot ` prefix"],
    ["slack", "bot_token", SLACK_APP, "app-level token"],
    ["slack", "app_token", SLACK_BOT, "bot token"],
    ["slack", "bot_token", "xoxp-123-user-token", "starts with `xoxb-`"],
  ])("refuses a malformed %s.%s", (channel, field, token, message) => {
    const body = { ...full, [channel]: { ...full[channel as keyof typeof full], [field]: token } };
    const errors = errorsOf(() => integrations(body));
    expect(errors).toEqual([{ path: `${channel}.${field}`, message: expect.stringContaining(message) }]);
    expect(JSON.stringify(errors)).not.toContain(token);
  });

  it("refuses enabling a channel with no token given or stored, naming each missing one", () => {
    const errors = errorsOf(() => integrations({ telegram: { enabled: true }, discord: { enabled: true }, slack: { enabled: true, bot_token: SLACK_BOT } }));
    expect(errors).toEqual([
      { path: "telegram.bot_token", message: "Required to enable telegram: no bot_token is stored." },
      { path: "discord.bot_token", message: "Required to enable discord: no bot_token is stored." },
      { path: "slack.app_token", message: "Required to enable slack: no app_token is stored." },
    ]);
  });

  it("stores a token for a disabled channel", () => {
    expect(integrations({ telegram: { enabled: false, bot_token: TELEGRAM_TOKEN } }).telegram).toMatchObject({
      enabled: false,
      bot_token: { last4: "Tg42" },
    });
  });
});

describe("agents document", () => {
  const agent = (over: Record<string, unknown> = {}) => ({ id: "main", name: "Ada", ...over });

  it("accepts a minimal agent, making it the default", () => {
    expect(agents({ agents: [agent()] })).toEqual({
      agents: [{ id: "main", name: "Ada", model: null, instructions: "", default: true }],
    });
  });

  it("makes the first agent the default when none is marked", () => {
    const stored = agents({ agents: [agent({ id: "a" }), agent({ id: "b" })] });
    expect(stored.agents.map((a) => a.default)).toEqual([true, false]);
  });

  it("keeps the one marked default, and marks every other false", () => {
    const stored = agents({ agents: [agent({ id: "a", default: false }), agent({ id: "b", default: true }), agent({ id: "c" })] });
    expect(stored.agents.map((a) => a.default)).toEqual([false, true, false]);
  });

  it("refuses two defaults, naming the second", () => {
    expect(errorsOf(() => agents({ agents: [agent({ id: "a", default: true }), agent({ id: "b", default: true })] }))).toEqual([
      { path: "agents[1].default", message: "Only one agent can be the default; agents[0] already is." },
    ]);
  });

  it("refuses duplicate ids, naming the duplicate", () => {
    expect(errorsOf(() => agents({ agents: [agent({ id: "a" }), agent({ id: "b" }), agent({ id: "a" })] }))).toEqual([
      { path: "agents[2].id", message: "Duplicate id `a` (also agents[0])." },
    ]);
  });

  it(`accepts ${MAX_AGENTS} agents and refuses ${MAX_AGENTS + 1}`, () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => agent({ id: `agent-${i}` }));
    expect(agents({ agents: many(MAX_AGENTS) }).agents).toHaveLength(MAX_AGENTS);
    expect(errorsOf(() => agents({ agents: many(MAX_AGENTS + 1) }))).toEqual([{ path: "agents", message: `At most ${MAX_AGENTS} agents.` }]);
  });

  it("refuses an empty list", () => {
    expect(errorsOf(() => agents({ agents: [] }))).toEqual([{ path: "agents", message: "Give at least one agent." }]);
    expect(errorsOf(() => agents({}))).toEqual([{ path: "agents", message: "Required." }]);
  });

  it.each(["", "Main", "-main", "_x", "a".repeat(33), "main agent", "ä"])("refuses id %j", (id) => {
    expect(paths(() => agents({ agents: [agent({ id })] }))).toEqual(["agents[0].id"]);
  });

  it.each(["m", "main", "0", "a_b-c", "a".repeat(32)])("accepts id %j", (id) => {
    expect(agents({ agents: [agent({ id })] }).agents[0]!.id).toBe(id);
  });

  it.each([
    ["", "Must not be empty."],
    ["   ", "Must not be empty."],
    ["x".repeat(101), "At most 100 characters."],
    ["two\nlines", "Must be a single line without control characters."],
    ["Leaks ${ANTHROPIC_API_KEY}", "Must not contain `${`."],
    ["nul\u0000byte", "Contains a NUL character or invalid Unicode."],
  ])("refuses name %j", (name, message) => {
    expect(errorsOf(() => agents({ agents: [agent({ name })] }))).toContainEqual({ path: "agents[0].name", message });
  });

  it("accepts instructions up to the limit and refuses one character more", () => {
    const max = "i".repeat(MAX_INSTRUCTIONS_CHARS);
    expect(agents({ agents: [agent({ instructions: max })] }).agents[0]!.instructions).toBe(max);
    expect(errorsOf(() => agents({ agents: [agent({ instructions: max + "i" })] }))).toEqual([
      { path: "agents[0].instructions", message: `At most ${MAX_INSTRUCTIONS_CHARS} characters.` },
    ]);
  });

  it("refuses text Postgres cannot store (a lone surrogate)", () => {
    expect(paths(() => agents({ agents: [agent({ instructions: "broken \ud800 text" })] }))).toEqual(["agents[0].instructions"]);
  });

  it("takes model as optional or null, checking its shape", () => {
    expect(agents({ agents: [agent({ model: null })] }).agents[0]!.model).toBeNull();
    expect(agents({ agents: [agent({ model: "claude-opus-4-1" })] }).agents[0]!.model).toBe("claude-opus-4-1");
    expect(paths(() => agents({ agents: [agent({ model: "" })] }))).toEqual(["agents[0].model"]);
  });

  it("checks agent models against the instance's provider when given it", () => {
    const anthropic = toStored("provider", { provider: "anthropic", model: "claude-sonnet-4-5", api_key: ANTHROPIC_KEY }, null);
    expect(errorsOf(() => toStored("agents", { agents: [agent({ model: "openai/gpt-5" })] }, null, { provider: anthropic }))).toEqual([
      { path: "agents[0].model", message: expect.stringContaining("The instance's provider is `anthropic`.") },
    ]);
    // without the provider, only the shape is checked
    expect(agents({ agents: [agent({ model: "openai/gpt-5" })] }).agents[0]!.model).toBe("openai/gpt-5");
  });

  it("names unknown fields on an agent", () => {
    expect(paths(() => agents({ agents: [agent({ prompt: "x" })] }))).toEqual(["agents[0].prompt"]);
  });

  it("fits the largest valid document in a 64 KiB body only if its text is small enough: the body limit is the backstop", () => {
    // 3 agents of 20 000 ASCII characters each fit; the route's 64 KiB limit (413) bounds the rest.
    const body = { agents: [0, 1, 2].map((i) => agent({ id: `a${i}`, instructions: "x".repeat(MAX_INSTRUCTIONS_CHARS) })) };
    expect(Buffer.byteLength(JSON.stringify(body))).toBeLessThan(64 * 1024);
    expect(agents(body).agents).toHaveLength(3);
  });
});
