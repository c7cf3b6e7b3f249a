import { z } from "zod";
import { documentedAs, NUL_FREE } from "./common";

/**
 * The three config documents of an instance (DESIGN.md 3.7): provider,
 * integrations, agents. Each is read and replaced whole. These schemas
 * validate the PUT bodies, type the code, and describe both bodies and the
 * secret-redacted GET answers in the OpenAPI document.
 *
 * Secrets (the model API key, bot and app tokens) are write-only: a PUT may
 * carry them, a GET shows `{set, last4}` instead. What a PUT that leaves a
 * secret out means is decided in lib/openclaw/documents.ts (`toStored`).
 */

export const MODEL_PROVIDERS = ["anthropic", "openai", "google", "openrouter"] as const;
export type ModelProvider = (typeof MODEL_PROVIDERS)[number];

export const CHANNELS = ["telegram", "discord", "slack"] as const;
export type Channel = (typeof CHANNELS)[number];

export const MAX_AGENTS = 20;
export const MAX_AGENT_NAME_CHARS = 100;
/** Per agent; 64 KiB bodies bound the whole document (a 413 beyond that). */
export const MAX_INSTRUCTIONS_CHARS = 20_000;
export const MAX_MODEL_ID_CHARS = 128;
const MAX_SECRET_CHARS = 512;

export const AGENT_ID = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/** One model-id segment: `claude-sonnet-4-5`, `gpt-5`, `gemini-2.5-pro`, `llama-3.1-8b-instruct:free`, `ft:gpt-4o:org::id`. */
const MODEL_SEGMENT = "[A-Za-z0-9][A-Za-z0-9._:@+-]*";
const MODEL_ID = new RegExp(`^${MODEL_SEGMENT}(?:/${MODEL_SEGMENT})*$`);

const PROVIDER_LABEL: Record<ModelProvider, string> = {
  anthropic: "Anthropic",
  openai: "OpenAI",
  google: "Google",
  openrouter: "OpenRouter",
};

const EXAMPLE_MODEL: Record<ModelProvider, string> = {
  anthropic: "claude-sonnet-4-5",
  openai: "gpt-5",
  google: "gemini-2.5-pro",
  openrouter: "anthropic/claude-sonnet-4",
};

/**
 * Whether `model` can be a model id of `provider`. OpenRouter ids name their
 * vendor (`vendor/model`); the others are bare ids, and a slash there is
 * almost always a pasted OpenClaw ref (`anthropic/claude-...`). The model
 * catalogue itself is not checked: providers add models every month.
 */
export function modelIssue(provider: ModelProvider, model: string): string | null {
  if (provider === "openrouter") {
    return model.includes("/")
      ? null
      : `OpenRouter model ids name their vendor, \`vendor/model\` (e.g. \`${EXAMPLE_MODEL.openrouter}\`).`;
  }
  if (!model.includes("/")) return null;
  if (model.startsWith(`${provider}/`)) {
    return `Give the model id without the \`${provider}/\` prefix (e.g. \`${model.slice(provider.length + 1)}\`): \`provider\` says whose model it is.`;
  }
  return `A ${PROVIDER_LABEL[provider]} model id has no slash (e.g. \`${EXAMPLE_MODEL[provider]}\`); \`vendor/model\` ids are for provider \`openrouter\`.`;
}

/** Each provider's API key shape (see `apiKeyIssue`). */
const API_KEY_SHAPES: Record<ModelProvider, { re: RegExp; hint: string }> = {
  anthropic: { re: /^sk-ant-[A-Za-z0-9_-]{20,}$/, hint: "An Anthropic API key starts with `sk-ant-`." },
  openai: { re: /^sk-[A-Za-z0-9_-]{20,}$/, hint: "An OpenAI API key starts with `sk-` (e.g. `sk-proj-`)." },
  google: {
    re: /^(?:AIza[A-Za-z0-9_-]{30,}|AQ\.[A-Za-z0-9._-]{20,})$/,
    hint: "A Google AI Studio (Gemini) API key starts with `AIza` or `AQ.`.",
  },
  openrouter: { re: /^sk-or-[A-Za-z0-9_-]{20,}$/, hint: "An OpenRouter API key starts with `sk-or-`." },
};

/** Any provider's key shape: what the document can say of `api_key` without knowing `provider`. */
const ANY_API_KEY = new RegExp(Object.values(API_KEY_SHAPES).map(({ re }) => `(?:${re.source})`).join("|"));

/**
 * A plausibility check of an API key's shape, per provider, from the
 * prefixes each vendor documents: Anthropic `sk-ant-`, OpenAI `sk-`
 * (`sk-proj-`, `sk-svcacct-`, ...), OpenRouter `sk-or-`, Google AI Studio
 * `AIza` (standard keys) or `AQ.` (the auth keys AI Studio issues since 2026).
 * It catches a key pasted into the wrong provider or a truncated one; it does
 * not prove the key works. Messages never repeat the key.
 */
export function apiKeyIssue(provider: ModelProvider, key: string): string | null {
  const looksLike = key.startsWith("sk-ant-")
    ? "anthropic"
    : key.startsWith("sk-or-")
      ? "openrouter"
      : key.startsWith("AIza") || key.startsWith("AQ.")
        ? "google"
        : key.startsWith("sk-")
          ? "openai"
          : null;
  if (looksLike !== null && looksLike !== provider) {
    return `This looks like ${article(PROVIDER_LABEL[looksLike])} ${PROVIDER_LABEL[looksLike]} key, but \`provider\` is \`${provider}\`.`;
  }
  const { re, hint } = API_KEY_SHAPES[provider];
  return re.test(key) ? null : `${hint} This one does not look like a complete key.`;
}

function article(word: string): string {
  return /^[AEIOU]/.test(word) ? "an" : "a";
}

/** Telegram bot tokens, as @BotFather issues them: `<bot id>:<35 characters>`. */
const TELEGRAM_TOKEN = /^[0-9]{1,20}:[A-Za-z0-9_-]{35}$/;

export function telegramTokenIssue(token: string): string | null {
  return TELEGRAM_TOKEN.test(token)
    ? null
    : "A Telegram bot token looks like `123456789:AA...` (the bot id, a colon, 35 characters), as @BotFather gives it.";
}

/** Discord bot tokens: three base64url parts joined by dots (user id, timestamp, HMAC). */
const DISCORD_TOKEN = /^[A-Za-z0-9_-]{18,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}$/;

export function discordTokenIssue(token: string): string | null {
  if (/^Bot\s/i.test(token)) return "Give the token without the `Bot ` prefix.";
  return DISCORD_TOKEN.test(token)
    ? null
    : "A Discord bot token has three dot-separated parts (Developer Portal > Bot > Reset Token).";
}

/** Slack's bot (`xoxb-`) and app-level (`xapp-`) tokens. */
const SLACK_TOKEN = { bot: /^xoxb-[A-Za-z0-9-]{10,}$/, app: /^xapp-[A-Za-z0-9-]{10,}$/ };

export function slackTokenIssue(kind: "bot" | "app", token: string): string | null {
  const other = kind === "bot" ? "xapp-" : "xoxb-";
  if (token.startsWith(other)) {
    return kind === "bot"
      ? "This is an app-level token (`xapp-`); give it as `app_token`, and the bot token (`xoxb-`) here."
      : "This is a bot token (`xoxb-`); give it as `bot_token`, and the app-level token (`xapp-`) here.";
  }
  return SLACK_TOKEN[kind].test(token)
    ? null
    : kind === "bot"
      ? "A Slack bot token starts with `xoxb-` (OAuth & Permissions > Bot User OAuth Token)."
      : "A Slack app-level token starts with `xapp-` (Basic Information > App-Level Tokens, scope `connections:write`).";
}

// A NUL or an unpaired surrogate cannot be stored in Postgres jsonb; refusing
// them here keeps a bad body a 400 instead of a failed insert.
// eslint-disable-next-line no-control-regex
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const storable = (s: string) => !UNSTORABLE.test(s);
const UNSTORABLE_MESSAGE = "Contains a NUL character or invalid Unicode.";

/** `Required.` for a missing field, `otherwise` for a wrong one. */
const requiredOr = (otherwise: string) => ({
  error: (issue: { input?: unknown }) => (issue.input === undefined ? "Required." : otherwise),
});

const MODEL_ID_RULE =
  "A model id is letters, digits and `.` `_` `-` `:` `@` `+`, with `/` only between a vendor and a model (e.g. `gpt-5`, `anthropic/claude-sonnet-4`).";

/** One message per bad model id, the most useful one. */
const modelId = z
  .string(requiredOr("Expected a model id string."))
  .trim()
  .superRefine((v, ctx) => {
    const message =
      v === ""
        ? "Give a model id, e.g. `claude-sonnet-4-5`."
        : v.length > MAX_MODEL_ID_CHARS
          ? `At most ${MAX_MODEL_ID_CHARS} characters.`
          : MODEL_ID.test(v)
            ? null
            : MODEL_ID_RULE;
    if (message) ctx.addIssue({ code: "custom", message });
  })
  .meta(documentedAs({ pattern: MODEL_ID, minLength: 1, maxLength: MAX_MODEL_ID_CHARS }));

/** A secret as a PUT carries it. Surrounding whitespace (a pasted newline) is dropped. */
const secretString = (check: (v: string) => string | null, pattern: RegExp) =>
  z
    .string(requiredOr("Expected a string."))
    .trim()
    .min(1, "Must not be empty. Leave the field out to keep the stored value.")
    .max(MAX_SECRET_CHARS, `At most ${MAX_SECRET_CHARS} characters.`)
    .superRefine((v, ctx) => {
      const issue = check(v);
      if (issue) ctx.addIssue({ code: "custom", message: issue });
    })
    .meta(documentedAs({ pattern, maxLength: MAX_SECRET_CHARS }));

const enabledFlag = z.boolean(requiredOr("Expected `true` or `false`.")).meta({ description: "Whether the channel runs" });

/**
 * The document's example secrets: made up, but each of the shape the server
 * checks, so a request copied from the reference is accepted
 * (tests/openapi/examples.test.ts sends them).
 */
const EXAMPLE_SECRETS = {
  anthropic: "sk-ant-api03-EXAMPLE-made-up-key-0123456789abcdefghijklmnop",
  telegram: "123456789:AAExampleMadeUpTokenFromBotFather00",
  discord: "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GExAmP.example_made_up_discord_token",
  slackBot: "xoxb-1234567890-1234567890123-ExampleMadeUpToken",
  slackApp: "xapp-1-A0123456789-1234567890123-examplemadeuptoken",
};

// --- PUT bodies -------------------------------------------------------------

export const providerBody = z
  .strictObject({
    provider: z.enum(MODEL_PROVIDERS, requiredOr(`Expected one of: ${MODEL_PROVIDERS.join(", ")}.`)).meta({
      description: "The model provider whose API key the assistant uses",
    }),
    model: modelId.meta({
      description: "The default model, as the provider names it; `vendor/model` for OpenRouter",
      example: "claude-sonnet-4-5",
    }),
    api_key: z
      .string(requiredOr("Expected a string."))
      .trim()
      .min(1, "Must not be empty. Leave the field out to keep the stored key.")
      .max(MAX_SECRET_CHARS, `At most ${MAX_SECRET_CHARS} characters.`)
      .meta(documentedAs({ pattern: ANY_API_KEY }))
      .optional()
      .meta({
        description:
          "The provider's API key. Write-only. Leave it out to keep the stored key, which is allowed only while `provider` stays the same. " +
          "Its shape is the provider's: " +
          MODEL_PROVIDERS.map((p) => `${p} \`${API_KEY_SHAPES[p].re.source}\``).join(", ") +
          ".",
        example: EXAMPLE_SECRETS.anthropic,
      }),
  })
  .superRefine((v, ctx) => {
    const m = modelIssue(v.provider, v.model);
    if (m) ctx.addIssue({ code: "custom", path: ["model"], message: m });
    if (v.api_key !== undefined) {
      const k = apiKeyIssue(v.provider, v.api_key);
      if (k) ctx.addIssue({ code: "custom", path: ["api_key"], message: k });
    }
  })
  .meta({
    id: "ProviderConfigRequest",
    description: "The model provider document. Replaces the stored one whole.",
    example: { provider: "anthropic", model: "claude-sonnet-4-5", api_key: EXAMPLE_SECRETS.anthropic },
  });

const tokenField = (check: (v: string) => string | null, pattern: RegExp, description: string, example: string) =>
  secretString(check, pattern).meta({ example }).nullable().optional().meta({
    description: `${description} Write-only. Leave it out to keep the stored token; \`null\` removes it.`,
  });

export const integrationsBody = z
  .strictObject({
    telegram: z
      .strictObject({
        enabled: enabledFlag,
        bot_token: tokenField(telegramTokenIssue, TELEGRAM_TOKEN, "The bot token from @BotFather.", EXAMPLE_SECRETS.telegram),
      })
      .optional(),
    discord: z
      .strictObject({
        enabled: enabledFlag,
        bot_token: tokenField(discordTokenIssue, DISCORD_TOKEN, "The bot token from the Discord Developer Portal.", EXAMPLE_SECRETS.discord),
      })
      .optional(),
    slack: z
      .strictObject({
        enabled: enabledFlag,
        bot_token: tokenField((v) => slackTokenIssue("bot", v), SLACK_TOKEN.bot, "The bot token (`xoxb-`).", EXAMPLE_SECRETS.slackBot),
        app_token: tokenField((v) => slackTokenIssue("app", v), SLACK_TOKEN.app, "The app-level token (`xapp-`) for Socket Mode.", EXAMPLE_SECRETS.slackApp),
      })
      .optional(),
  })
  .meta({
    id: "IntegrationsConfigRequest",
    description:
      "The chat channels document. Replaces the stored one whole: a channel left out is disabled (its stored tokens are kept until set to `null`). Enabling a channel needs its tokens, given here or already stored.",
    example: {
      telegram: { enabled: true, bot_token: EXAMPLE_SECRETS.telegram },
      discord: { enabled: false },
      slack: { enabled: true, bot_token: EXAMPLE_SECRETS.slackBot, app_token: EXAMPLE_SECRETS.slackApp },
    },
  });

// eslint-disable-next-line no-control-regex
const SINGLE_LINE = /^[^\u0000-\u001f\u007f]*$/;
const NO_VARIABLE = /^(?![\s\S]*\$\{)/;

const agentBody = z.strictObject({
  id: z
    .string(requiredOr("Expected a string."))
    .regex(AGENT_ID, "1-32 characters of `a-z`, `0-9`, `_`, `-`, starting with a letter or digit.")
    .meta({ description: "Stable id; also names the agent's workspace", example: "main" }),
  name: z
    .string(requiredOr("Expected a string."))
    .trim()
    .min(1, "Must not be empty.")
    .max(MAX_AGENT_NAME_CHARS, `At most ${MAX_AGENT_NAME_CHARS} characters.`)
    .refine(storable, UNSTORABLE_MESSAGE)
    .regex(SINGLE_LINE, "Must be a single line without control characters.")
    // OpenClaw substitutes `${VAR}` in config strings: a name must not be able to read the environment.
    .regex(NO_VARIABLE, "Must not contain `${`.")
    .meta({ description: "Display name", example: "Ada" }),
  model: modelId.nullable().optional().meta({
    description: "A model of the instance's provider; left out or `null`, the provider document's `model`",
    example: "claude-opus-4-1",
  }),
  instructions: z
    .string(requiredOr("Expected a string."))
    .max(MAX_INSTRUCTIONS_CHARS, `At most ${MAX_INSTRUCTIONS_CHARS} characters.`)
    .refine(storable, UNSTORABLE_MESSAGE)
    .meta(documentedAs({ pattern: NUL_FREE }))
    .optional()
    .meta({ description: "What the agent is and how it behaves (its persona), in Markdown" }),
  default: z.boolean(requiredOr("Expected `true` or `false`.")).optional().meta({
    description: "The agent that answers the chat channels. At most one; if none is marked, the first agent is the default.",
  }),
});

export const agentsBody = z
  .strictObject({
    agents: z
      .array(agentBody, requiredOr("Expected an array of agents."))
      .min(1, "Give at least one agent.")
      .max(MAX_AGENTS, `At most ${MAX_AGENTS} agents.`),
  })
  .superRefine((v, ctx) => {
    const seen = new Map<string, number>();
    v.agents.forEach((a, i) => {
      const first = seen.get(a.id);
      if (first !== undefined) {
        ctx.addIssue({ code: "custom", path: ["agents", i, "id"], message: `Duplicate id \`${a.id}\` (also agents[${first}]).` });
      } else seen.set(a.id, i);
    });
    const defaults = v.agents.flatMap((a, i) => (a.default === true ? [i] : []));
    for (const i of defaults.slice(1)) {
      ctx.addIssue({
        code: "custom",
        path: ["agents", i, "default"],
        message: `Only one agent can be the default; agents[${defaults[0]}] already is.`,
      });
    }
  })
  .meta({
    id: "AgentsConfigRequest",
    description: `The agents document: 1-${MAX_AGENTS} agents. Replaces the stored one whole.`,
    example: {
      agents: [
        { id: "main", name: "Ada", instructions: "You are Ada, a concise personal assistant.", default: true },
        { id: "research", name: "Scout", model: "claude-opus-4-1", instructions: "You dig into questions and cite sources." },
      ],
    },
  });

// --- GET answers ------------------------------------------------------------

export const secretStatus = z
  .object({
    set: z.boolean().meta({ description: "Whether a value is stored" }),
    last4: z.string().nullable().meta({ description: "The value's last four characters, to tell keys apart", example: "x7Qa" }),
  })
  .meta({ id: "SecretStatus", description: "A write-only secret: never returned, only whether it is set." });

export const providerResource = z
  .object({
    provider: z.enum(MODEL_PROVIDERS).nullable().meta({ description: "`null` until a provider document is stored" }),
    model: z.string().nullable(),
    api_key: secretStatus,
  })
  .meta({
    id: "ProviderConfig",
    example: { provider: "anthropic", model: "claude-sonnet-4-5", api_key: { set: true, last4: "x7Qa" } },
  });

const channelResource = z.object({ enabled: z.boolean(), bot_token: secretStatus });

export const integrationsResource = z
  .object({
    telegram: channelResource,
    discord: channelResource,
    slack: channelResource.extend({ app_token: secretStatus }),
  })
  .meta({
    id: "IntegrationsConfig",
    example: {
      telegram: { enabled: true, bot_token: { set: true, last4: "Qw3e" } },
      discord: { enabled: false, bot_token: { set: false, last4: null } },
      slack: { enabled: true, bot_token: { set: true, last4: "9f2K" }, app_token: { set: true, last4: "ffee" } },
    },
  });

export const agentResource = z
  .object({
    id: z.string(),
    name: z.string(),
    model: z.string().nullable().meta({ description: "`null`: the provider document's model" }),
    instructions: z.string(),
    default: z.boolean().meta({ description: "Exactly one agent is the default" }),
  })
  .meta({ id: "AgentConfig" });

export const agentsResource = z.object({ agents: z.array(agentResource) }).meta({ id: "AgentsConfig" });

export type ProviderBody = z.output<typeof providerBody>;
export type IntegrationsBody = z.output<typeof integrationsBody>;
export type AgentsBody = z.output<typeof agentsBody>;
export type SecretStatus = z.output<typeof secretStatus>;
export type ProviderResource = z.output<typeof providerResource>;
export type IntegrationsResource = z.output<typeof integrationsResource>;
export type AgentsResource = z.output<typeof agentsResource>;
