import { describe, expect, it } from "vitest";
import { decryptDocuments, defaults, toStored, type EffectiveDocuments, type StoredDocuments } from "@/lib/openclaw/documents";
import { renderOpenClawConfig } from "@/lib/openclaw/render";
import { OPENCLAW_CONFIG_PATH } from "@/lib/openclaw/runtime";
import {
  ALL_SECRETS,
  ANTHROPIC_KEY,
  DISCORD_TOKEN,
  GATEWAY_TOKEN,
  OPENROUTER_KEY,
  SLACK_APP,
  SLACK_BOT,
  TELEGRAM_TOKEN,
} from "./fixtures";

const ORIGIN = "https://ada.myopenclaw.test";

function storedDocs(): StoredDocuments {
  return {
    provider: toStored("provider", { provider: "anthropic", model: "claude-sonnet-4-5", api_key: ANTHROPIC_KEY }, null),
    integrations: toStored(
      "integrations",
      {
        telegram: { enabled: true, bot_token: TELEGRAM_TOKEN },
        discord: { enabled: false, bot_token: DISCORD_TOKEN },
        slack: { enabled: true, bot_token: SLACK_BOT, app_token: SLACK_APP },
      },
      null,
    ),
    agents: toStored(
      "agents",
      {
        agents: [
          { id: "main", name: "Ada", instructions: "You are Ada.\nBe brief.\n\n" },
          { id: "research", name: "Scout", model: "claude-opus-4-1", instructions: "Cite sources.", default: true },
          { id: "scratch", name: "Scratch" },
        ],
      },
      null,
    ),
  };
}

const render = (docs: EffectiveDocuments, publicOrigin: string | null = ORIGIN) =>
  renderOpenClawConfig(docs, { gatewayToken: GATEWAY_TOKEN, publicOrigin: publicOrigin ?? undefined });

const configFile = (r: ReturnType<typeof render>) => r.files.find((f) => f.path === OPENCLAW_CONFIG_PATH)!;

describe("renderOpenClawConfig", () => {
  it("renders the OpenClaw config file, workspace files, env and secrets", () => {
    const r = render(decryptDocuments(storedDocs()));

    expect(r.files.map((f) => f.path)).toEqual([
      "/data/openclaw.json",
      "/data/workspace-main/SOUL.md",
      "/data/workspace-research/SOUL.md",
      "/data/workspace-scratch/SOUL.md",
    ]);
    expect(JSON.parse(configFile(r).content)).toEqual({
      agents: {
        defaults: {
          model: { primary: "anthropic/claude-sonnet-4-5" },
          systemAgent: { agentId: "research" },
        },
        entries: {
          main: { name: "Ada", workspace: "/data/workspace-main" },
          research: { name: "Scout", workspace: "/data/workspace-research", model: "anthropic/claude-opus-4-1" },
          scratch: { name: "Scratch", workspace: "/data/workspace-scratch" },
        },
        ownership: "explicit",
      },
      bindings: [
        { agentId: "research", match: { channel: "slack" } },
        { agentId: "research", match: { channel: "telegram" } },
      ],
      channels: {
        slack: { enabled: true, botToken: "${SLACK_BOT_TOKEN}", appToken: "${SLACK_APP_TOKEN}" },
        telegram: { enabled: true, botToken: "${TELEGRAM_BOT_TOKEN}" },
      },
      gateway: {
        mode: "local",
        port: 3000,
        bind: "lan",
        auth: { mode: "token", token: "${OPENCLAW_GATEWAY_TOKEN}" },
        controlUi: { allowedOrigins: [ORIGIN] },
      },
    });
    expect(r.files.find((f) => f.path === "/data/workspace-main/SOUL.md")!.content).toBe("You are Ada.\nBe brief.\n");
    expect(r.files.find((f) => f.path === "/data/workspace-scratch/SOUL.md")!.content).toBe(
      "You are Scratch, a helpful personal assistant.\n",
    );
    expect(r.env).toEqual({ OPENCLAW_CONFIG_PATH: "/data/openclaw.json", OPENCLAW_STATE_DIR: "/data" });
    expect(r.secrets).toEqual({
      ANTHROPIC_API_KEY: ANTHROPIC_KEY,
      OPENCLAW_GATEWAY_TOKEN: GATEWAY_TOKEN,
      SLACK_APP_TOKEN: SLACK_APP,
      SLACK_BOT_TOKEN: SLACK_BOT,
      TELEGRAM_BOT_TOKEN: TELEGRAM_TOKEN,
    });
  });

  it("keeps every secret out of the files and the plain env: only `secrets` holds them", () => {
    const r = render(decryptDocuments(storedDocs()));
    const visible = JSON.stringify({ files: r.files, env: r.env });
    for (const s of ALL_SECRETS) expect(visible).not.toContain(s);
    expect(Object.values(r.secrets)).toContain(ANTHROPIC_KEY);
  });

  it("leaves a disabled channel out, token and all, even when its token is stored", () => {
    const r = render(decryptDocuments(storedDocs()));
    expect(JSON.parse(configFile(r).content).channels.discord).toBeUndefined();
    expect(r.secrets.DISCORD_BOT_TOKEN).toBeUndefined();
    expect(JSON.stringify(r)).not.toContain(DISCORD_TOKEN);
  });

  it("is byte-identical for the same documents, however their keys are ordered and however often sealed", () => {
    const a = render(decryptDocuments(storedDocs()));
    const reordered = JSON.parse(JSON.stringify(storedDocs()), (_k, v) =>
      v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v,
    ) as StoredDocuments;
    const b = render(decryptDocuments(reordered));
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    // the file itself is pretty-printed with sorted keys and a final newline
    expect(configFile(a).content.startsWith('{\n  "agents": {\n    "defaults": {')).toBe(true);
    expect(configFile(a).content.endsWith("}\n")).toBe(true);
  });

  it("renders a single agent without the fleet ownership keys, and with no channel no bindings", () => {
    const docs: StoredDocuments = { ...storedDocs(), integrations: structuredClone(defaults.integrations) as StoredDocuments["integrations"] };
    docs.agents = toStored("agents", { agents: [{ id: "main", name: "Ada" }] }, null);
    const r = render(decryptDocuments(docs));
    expect(JSON.parse(configFile(r).content)).toEqual({
      agents: {
        defaults: { model: { primary: "anthropic/claude-sonnet-4-5" } },
        entries: { main: { name: "Ada", workspace: "/data/workspace-main" } },
      },
      gateway: {
        mode: "local",
        port: 3000,
        bind: "lan",
        auth: { mode: "token", token: "${OPENCLAW_GATEWAY_TOKEN}" },
        controlUi: { allowedOrigins: [ORIGIN] },
      },
    });
    expect(Object.keys(r.secrets)).toEqual(["ANTHROPIC_API_KEY", "OPENCLAW_GATEWAY_TOKEN"]);
  });

  it("qualifies OpenRouter models as openrouter/<vendor>/<model> and reads OPENROUTER_API_KEY", () => {
    const docs = storedDocs();
    docs.provider = toStored("provider", { provider: "openrouter", model: "anthropic/claude-sonnet-4", api_key: OPENROUTER_KEY }, docs.provider);
    docs.agents = toStored("agents", { agents: [{ id: "main", name: "Ada", model: "openai/gpt-5" }] }, null, { provider: docs.provider });
    const r = render(decryptDocuments(docs));
    const config = JSON.parse(configFile(r).content);
    expect(config.agents.defaults.model).toEqual({ primary: "openrouter/anthropic/claude-sonnet-4" });
    expect(config.agents.entries.main.model).toBe("openrouter/openai/gpt-5");
    expect(r.secrets.OPENROUTER_API_KEY).toBe(OPENROUTER_KEY);
    expect(r.secrets.ANTHROPIC_API_KEY).toBeUndefined();
  });

  it("falls back to the provider's model for an agent model another provider's (after a provider change)", () => {
    const docs = storedDocs();
    docs.agents = toStored("agents", { agents: [{ id: "main", name: "Ada", model: "openai/gpt-5" }] }, null);
    const config = JSON.parse(configFile(render(decryptDocuments(docs))).content);
    expect(config.agents.entries.main).toEqual({ name: "Ada", workspace: "/data/workspace-main" });
  });

  it("renders a new instance (no provider yet): no model, no key, Control UI off without a public origin", () => {
    const r = render(decryptDocuments(defaults as StoredDocuments), null);
    expect(JSON.parse(configFile(r).content)).toEqual({
      agents: { defaults: {}, entries: { main: { name: "Assistant", workspace: "/data/workspace-main" } } },
      gateway: {
        mode: "local",
        port: 3000,
        bind: "lan",
        auth: { mode: "token", token: "${OPENCLAW_GATEWAY_TOKEN}" },
        controlUi: { enabled: false },
      },
    });
    expect(r.secrets).toEqual({ OPENCLAW_GATEWAY_TOKEN: GATEWAY_TOKEN });
  });
});
