import type { RenderedConfig } from "../compute/types";
import { modelIssue, type Channel, type ModelProvider } from "../schemas/config";
import { canonicalJson } from "../canonical-json";
import type { EffectiveDocuments } from "./documents";
import { OPENCLAW_CONFIG_PATH, OPENCLAW_GATEWAY_PORT, OPENCLAW_STATE_DIR } from "./runtime";

/**
 * Renders an instance's (decrypted) config documents into what its machine
 * runs: OpenClaw's config file, its environment, and the secrets it reads
 * from the environment. Pure and deterministic: the same documents give
 * byte-identical output.
 *
 * Where the OpenClaw facts come from (openclaw/openclaw docs unless noted):
 * - docs/install/fly.md: with OPENCLAW_STATE_DIR=/data the config is
 *   /data/openclaw.json; "prefer env vars over the config file for all API
 *   keys and tokens"; `gateway.mode: "local"`.
 * - docs/gateway/configuration.md: OPENCLAW_CONFIG_PATH names the config file;
 *   validation is strict (an unknown key stops the gateway from booting), so
 *   only keys documented below are written.
 * - docs/gateway/config-secrets-env.md: `${VAR}` substitution in any config
 *   string (upper-case names only), e.g. `gateway.auth.token:
 *   "${OPENCLAW_GATEWAY_TOKEN}"`; `$${VAR}` escapes. Secrets therefore stay in
 *   the environment and the file only names them.
 * - docs/providers/{anthropic,openai,google,openrouter}.md and
 *   docs/gateway/config-agents.md: model refs are `provider/model`
 *   (`openrouter/<vendor>/<model>`) under `agents.defaults.model.primary`;
 *   keys come from ANTHROPIC_API_KEY, OPENAI_API_KEY, GEMINI_API_KEY (or
 *   GOOGLE_API_KEY), OPENROUTER_API_KEY.
 * - docs/gateway/config-channels/*.md: `channels.telegram.botToken`
 *   (fallback TELEGRAM_BOT_TOKEN), `channels.discord.token` (fallback
 *   DISCORD_BOT_TOKEN), `channels.slack.botToken` + `appToken` for Socket Mode
 *   (SLACK_BOT_TOKEN, SLACK_APP_TOKEN). DM policy is left at OpenClaw's default,
 *   `pairing`: strangers who find the bot cannot spend the customer's API key.
 * - docs/gateway/config-agents/entries-and-multi-agent.md and
 *   docs/gateway/doctor/config-migrations.md: since OpenClaw 2026.8.1 the
 *   roster is `agents.entries` keyed by id (`agents.list` is rejected, and the
 *   per-agent `default` flag is retired); a fleet of more than one agent sets
 *   `agents.ownership: "explicit"` and names its owner in
 *   `agents.defaults.systemAgent.agentId`, and routes channels with
 *   `bindings: [{agentId, match: {channel}}]`. The pinned image
 *   (lib/config.ts) is newer than 2026.8.1.
 * - Agent instructions are not a config key: OpenClaw builds the system prompt
 *   from workspace files (docs/concepts/system-prompt.md: AGENTS.md, SOUL.md,
 *   ...). The instructions become the agent's SOUL.md (persona, tone,
 *   boundaries), leaving OpenClaw's own AGENTS.md (its operating manual:
 *   memory, safety) in place.
 * - Binding beyond loopback (`--bind lan`) refuses to start without
 *   `gateway.controlUi.allowedOrigins` (OpenClaw >= 2026.2.23), so the Control
 *   UI is allowed for the instance's public origin, or switched off without one.
 */

export const PROVIDER_KEY_ENV: Record<ModelProvider, string> = {
  anthropic: "ANTHROPIC_API_KEY",
  openai: "OPENAI_API_KEY",
  google: "GEMINI_API_KEY",
  openrouter: "OPENROUTER_API_KEY",
};

export const CHANNEL_TOKEN_ENV = {
  telegram: { bot_token: "TELEGRAM_BOT_TOKEN" },
  discord: { bot_token: "DISCORD_BOT_TOKEN" },
  slack: { bot_token: "SLACK_BOT_TOKEN", app_token: "SLACK_APP_TOKEN" },
} as const satisfies Record<Channel, Record<string, string>>;

export interface RenderOptions {
  /** OPENCLAW_GATEWAY_TOKEN: authenticates clients of the gateway (Control UI, API). */
  gatewayToken: string;
  /** The instance's public origin (`https://<subdomain>.<domain>`), allowed to load the Control UI. Without it the Control UI is off. */
  publicOrigin?: string;
}

/** Where an agent's workspace lives: on the volume, one per agent, as OpenClaw's `workspace-<agentId>` convention. */
export function agentWorkspace(agentId: string): string {
  return `${OPENCLAW_STATE_DIR}/workspace-${agentId}`;
}

const ref = (name: string) => "${" + name + "}";

export function renderOpenClawConfig(docs: EffectiveDocuments, opts: RenderOptions): RenderedConfig {
  const secrets: Record<string, string> = { OPENCLAW_GATEWAY_TOKEN: opts.gatewayToken };
  const provider = docs.provider;
  if (provider) secrets[PROVIDER_KEY_ENV[provider.provider]] = provider.api_key;

  const qualify = (model: string) => `${provider!.provider}/${model}`;
  const agents = docs.agents.agents;
  const defaultAgent = agents.find((a) => a.default) ?? agents[0]!;

  const entries: Record<string, Record<string, unknown>> = {};
  for (const a of agents) {
    const entry: Record<string, unknown> = { name: a.name, workspace: agentWorkspace(a.id) };
    // A model of another provider (left by a provider change) falls back to the default model.
    if (provider && a.model && modelIssue(provider.provider, a.model) === null) entry.model = qualify(a.model);
    entries[a.id] = entry;
  }
  const agentDefaults: Record<string, unknown> = {};
  if (provider) agentDefaults.model = { primary: qualify(provider.model) };
  const agentsSection: Record<string, unknown> = { defaults: agentDefaults, entries };
  if (agents.length > 1) {
    agentsSection.ownership = "explicit";
    agentDefaults.systemAgent = { agentId: defaultAgent.id };
  }

  // Disabled channels are left out entirely (and their tokens kept out of the
  // environment), so OpenClaw's env fallbacks cannot start them either.
  const channels: Record<string, Record<string, unknown>> = {};
  const { telegram, discord, slack } = docs.integrations;
  if (telegram.enabled && telegram.bot_token) {
    channels.telegram = { enabled: true, botToken: ref(CHANNEL_TOKEN_ENV.telegram.bot_token) };
    secrets[CHANNEL_TOKEN_ENV.telegram.bot_token] = telegram.bot_token;
  }
  if (discord.enabled && discord.bot_token) {
    channels.discord = { enabled: true, token: ref(CHANNEL_TOKEN_ENV.discord.bot_token) };
    secrets[CHANNEL_TOKEN_ENV.discord.bot_token] = discord.bot_token;
  }
  if (slack.enabled && slack.bot_token && slack.app_token) {
    channels.slack = {
      enabled: true,
      botToken: ref(CHANNEL_TOKEN_ENV.slack.bot_token),
      appToken: ref(CHANNEL_TOKEN_ENV.slack.app_token),
    };
    secrets[CHANNEL_TOKEN_ENV.slack.bot_token] = slack.bot_token;
    secrets[CHANNEL_TOKEN_ENV.slack.app_token] = slack.app_token;
  }
  // Every channel answers through the default agent.
  const bindings = Object.keys(channels)
    .sort()
    .map((channel) => ({ agentId: defaultAgent.id, match: { channel } }));

  const config: Record<string, unknown> = {
    gateway: {
      mode: "local",
      port: OPENCLAW_GATEWAY_PORT,
      bind: "lan",
      auth: { mode: "token", token: ref("OPENCLAW_GATEWAY_TOKEN") },
      controlUi: opts.publicOrigin ? { allowedOrigins: [opts.publicOrigin] } : { enabled: false },
    },
    agents: agentsSection,
  };
  if (Object.keys(channels).length > 0) {
    config.channels = channels;
    config.bindings = bindings;
  }

  const files = [
    { path: OPENCLAW_CONFIG_PATH, content: canonicalJson(config, 2) + "\n" },
    ...agents.map((a) => ({ path: `${agentWorkspace(a.id)}/SOUL.md`, content: soul(a.name, a.instructions) })),
  ].sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));

  return {
    files,
    env: { OPENCLAW_CONFIG_PATH, OPENCLAW_STATE_DIR },
    secrets: Object.fromEntries(Object.entries(secrets).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))),
  };
}

/**
 * The agent's SOUL.md. Written on every apply, even without instructions, so
 * the machine never keeps instructions the document no longer has.
 */
function soul(name: string, instructions: string): string {
  const body = instructions.trim() === "" ? `You are ${name}, a helpful personal assistant.` : instructions.replace(/\s+$/, "");
  return body + "\n";
}
