import { createHash } from "node:crypto";
import type { z } from "zod";
import type { Secret } from "../config";
import { canonicalJson } from "../canonical-json";
import { needsReseal, open, seal } from "../crypto";
import { fieldErrors, validationError, type FieldError } from "../errors";
import {
  agentsBody,
  integrationsBody,
  modelIssue,
  providerBody,
  type AgentsResource,
  type IntegrationsResource,
  type ModelProvider,
  type ProviderResource,
  type SecretStatus,
} from "../schemas/config";

/**
 * The stored form of an instance's three config documents, and the pure rules
 * between a PUT body, what is stored, what a GET shows and what the machine
 * runs. No database, no HTTP: the service stores what `toStored` returns (as
 * jsonb) and answers what `toPublic` returns.
 *
 * Secrets are sealed with lib/crypto (AES-256-GCM, versioned keys) and kept
 * beside their last four characters, so a GET never decrypts anything.
 *
 * Rules for secrets on a PUT (the document is otherwise replaced whole):
 * - provider: `api_key` left out keeps the stored key only while `provider`
 *   stays the same; a changed provider, or no stored key yet, needs a new
 *   one (a key is never carried over to another vendor). The key cannot be
 *   removed, only replaced.
 * - integrations: a token left out keeps the stored token of that same field;
 *   `null` removes it. A channel left out of the body is disabled, its tokens
 *   kept. An enabled channel needs its tokens (Telegram and Discord a bot
 *   token, Slack a bot and an app-level token), given or stored.
 * - agents: no secrets. If no agent is marked `default`, the first one is; the
 *   stored form always marks exactly one.
 */

export type ConfigKind = "provider" | "integrations" | "agents";

export interface SealedSecret {
  /** `seal()` output: `v<key version>.<iv>.<tag>.<ciphertext>`. */
  sealed: string;
  /** The plaintext's last four characters, kept so reads never decrypt. */
  last4: string;
}

export interface StoredProvider {
  provider: ModelProvider;
  model: string;
  api_key: SealedSecret;
}

export interface StoredChannel {
  enabled: boolean;
  bot_token: SealedSecret | null;
}

export interface StoredIntegrations {
  telegram: StoredChannel;
  discord: StoredChannel;
  slack: StoredChannel & { app_token: SealedSecret | null };
}

export interface StoredAgent {
  id: string;
  name: string;
  /** null: the provider document's model. */
  model: string | null;
  instructions: string;
  default: boolean;
}

export interface StoredAgents {
  agents: StoredAgent[];
}

export interface StoredDocuments {
  /** null until the first provider PUT. */
  provider: StoredProvider | null;
  integrations: StoredIntegrations;
  agents: StoredAgents;
}

interface StoredByKind {
  provider: StoredProvider;
  integrations: StoredIntegrations;
  agents: StoredAgents;
}

interface PublicByKind {
  provider: ProviderResource;
  integrations: IntegrationsResource;
  agents: AgentsResource;
}

/** The documents with every secret opened: what renderOpenClawConfig takes and effectiveHash digests. */
export interface EffectiveDocuments {
  provider: { provider: ModelProvider; model: string; api_key: string } | null;
  integrations: {
    telegram: { enabled: boolean; bot_token: string | null };
    discord: { enabled: boolean; bot_token: string | null };
    slack: { enabled: boolean; bot_token: string | null; app_token: string | null };
  };
  agents: StoredAgents;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * A new instance's documents: no provider yet (the assistant has no model
 * until one is PUT), every channel off, and OpenClaw's own single agent,
 * `main`. Frozen: copy before changing.
 */
export const defaults: Readonly<StoredDocuments> = deepFreeze({
  provider: null,
  integrations: {
    telegram: { enabled: false, bot_token: null },
    discord: { enabled: false, bot_token: null },
    slack: { enabled: false, bot_token: null, app_token: null },
  },
  agents: { agents: [{ id: "main", name: "Assistant", model: null, instructions: "", default: true }] },
});

export interface ToStoredOptions {
  /** Encryption keys, newest first (default: the configured ones). */
  keys?: Secret[];
  /**
   * For `agents`: the instance's stored provider document. When given, each
   * agent's `model` must be a model id of that provider. (An agent model left
   * stale by a later provider change falls back to the provider's model at
   * render time rather than blocking that change.)
   */
  provider?: StoredProvider | null;
}

/**
 * Validates a PUT body of `kind` against the schema and the secret rules
 * above, and returns the new stored document: new secrets sealed, omitted
 * ones carried over from `previous` (the stored document, or null for none).
 * Throws `validationError` (400) naming each offending field.
 */
export function toStored<K extends ConfigKind>(
  kind: K,
  input: unknown,
  previous: StoredByKind[K] | null,
  opts?: ToStoredOptions,
): StoredByKind[K];
export function toStored(kind: ConfigKind, input: unknown, previous: unknown, opts: ToStoredOptions = {}): unknown {
  switch (kind) {
    case "provider":
      return providerToStored(parse(providerBody, input), previous as StoredProvider | null, opts.keys);
    case "integrations":
      return integrationsToStored(parse(integrationsBody, input), previous as StoredIntegrations | null, opts.keys);
    case "agents":
      return agentsToStored(parse(agentsBody, input), opts.provider ?? null);
  }
}

function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw validationError(fieldErrors(result.error));
  return result.data;
}

function sealSecret(plaintext: string, keys: Secret[] | undefined): SealedSecret {
  return { sealed: seal(plaintext, keys), last4: plaintext.slice(-4) };
}

function providerToStored(body: z.output<typeof providerBody>, previous: StoredProvider | null, keys: Secret[] | undefined): StoredProvider {
  let apiKey: SealedSecret;
  if (body.api_key !== undefined) {
    apiKey = sealSecret(body.api_key, keys);
  } else if (previous && previous.provider === body.provider) {
    apiKey = previous.api_key;
  } else if (previous) {
    throw validationError([
      {
        path: "api_key",
        message: `Required when changing provider from \`${previous.provider}\` to \`${body.provider}\`: the stored key is ${previous.provider}'s.`,
      },
    ]);
  } else {
    throw validationError([{ path: "api_key", message: "Required: no API key is stored for this instance yet." }]);
  }
  return { provider: body.provider, model: body.model, api_key: apiKey };
}

/** Given (seal it), `null` (remove it) or left out (keep the stored one). */
function nextSecret(given: string | null | undefined, stored: SealedSecret | null | undefined, keys: Secret[] | undefined): SealedSecret | null {
  if (given === undefined) return stored ?? null;
  if (given === null) return null;
  return sealSecret(given, keys);
}

function integrationsToStored(
  body: z.output<typeof integrationsBody>,
  previous: StoredIntegrations | null,
  keys: Secret[] | undefined,
): StoredIntegrations {
  const errors: FieldError[] = [];
  const need = (channel: string, field: string, enabled: boolean, value: SealedSecret | null, given: unknown) => {
    if (!enabled || value) return;
    errors.push({
      path: `${channel}.${field}`,
      message: given === null ? `Cannot remove the ${field} of an enabled channel.` : `Required to enable ${channel}: no ${field} is stored.`,
    });
  };

  const telegramIn = body.telegram ?? { enabled: false };
  const telegram: StoredChannel = {
    enabled: telegramIn.enabled,
    bot_token: nextSecret(telegramIn.bot_token, previous?.telegram.bot_token, keys),
  };
  need("telegram", "bot_token", telegram.enabled, telegram.bot_token, telegramIn.bot_token);

  const discordIn = body.discord ?? { enabled: false };
  const discord: StoredChannel = {
    enabled: discordIn.enabled,
    bot_token: nextSecret(discordIn.bot_token, previous?.discord.bot_token, keys),
  };
  need("discord", "bot_token", discord.enabled, discord.bot_token, discordIn.bot_token);

  // Socket Mode (the only Slack mode without a public webhook URL) needs both tokens.
  const slackIn = body.slack ?? { enabled: false };
  const slack: StoredIntegrations["slack"] = {
    enabled: slackIn.enabled,
    bot_token: nextSecret(slackIn.bot_token, previous?.slack.bot_token, keys),
    app_token: nextSecret(slackIn.app_token, previous?.slack.app_token, keys),
  };
  need("slack", "bot_token", slack.enabled, slack.bot_token, slackIn.bot_token);
  need("slack", "app_token", slack.enabled, slack.app_token, slackIn.app_token);

  if (errors.length > 0) throw validationError(errors);
  return { telegram, discord, slack };
}

function agentsToStored(body: z.output<typeof agentsBody>, provider: StoredProvider | null): StoredAgents {
  if (provider) {
    const errors: FieldError[] = [];
    body.agents.forEach((a, i) => {
      const issue = a.model ? modelIssue(provider.provider, a.model) : null;
      if (issue) errors.push({ path: `agents[${i}].model`, message: `The instance's provider is \`${provider.provider}\`. ${issue}` });
    });
    if (errors.length > 0) throw validationError(errors);
  }
  const marked = body.agents.findIndex((a) => a.default === true);
  const defaultIndex = marked === -1 ? 0 : marked;
  return {
    agents: body.agents.map((a, i) => ({
      id: a.id,
      name: a.name,
      model: a.model ?? null,
      instructions: a.instructions ?? "",
      default: i === defaultIndex,
    })),
  };
}

/** The GET answer for a stored document: secrets shown only as `{set, last4}`. Pass null for "none stored yet". */
export function toPublic<K extends ConfigKind>(kind: K, stored: StoredByKind[K] | null): PublicByKind[K];
export function toPublic(kind: ConfigKind, stored: unknown): unknown {
  switch (kind) {
    case "provider": {
      const p = stored as StoredProvider | null;
      return p
        ? { provider: p.provider, model: p.model, api_key: status(p.api_key) }
        : { provider: null, model: null, api_key: status(null) };
    }
    case "integrations": {
      const s = (stored as StoredIntegrations | null) ?? defaults.integrations;
      return {
        telegram: { enabled: s.telegram.enabled, bot_token: status(s.telegram.bot_token) },
        discord: { enabled: s.discord.enabled, bot_token: status(s.discord.bot_token) },
        slack: { enabled: s.slack.enabled, bot_token: status(s.slack.bot_token), app_token: status(s.slack.app_token) },
      };
    }
    case "agents": {
      const s = (stored as StoredAgents | null) ?? defaults.agents;
      return { agents: s.agents.map((a) => ({ id: a.id, name: a.name, model: a.model, instructions: a.instructions, default: a.default })) };
    }
  }
}

function status(secret: SealedSecret | null): SecretStatus {
  return secret ? { set: true, last4: secret.last4 } : { set: false, last4: null };
}

/** Opens every secret. For the operation that applies the config, and for hashing; never for an API answer. */
export function decryptDocuments(docs: StoredDocuments, keys?: Secret[]): EffectiveDocuments {
  const o = (s: SealedSecret | null) => (s ? open(s.sealed, keys) : null);
  const { telegram, discord, slack } = docs.integrations;
  return {
    provider: docs.provider
      ? { provider: docs.provider.provider, model: docs.provider.model, api_key: open(docs.provider.api_key.sealed, keys) }
      : null,
    integrations: {
      telegram: { enabled: telegram.enabled, bot_token: o(telegram.bot_token) },
      discord: { enabled: discord.enabled, bot_token: o(discord.bot_token) },
      slack: { enabled: slack.enabled, bot_token: o(slack.bot_token), app_token: o(slack.app_token) },
    },
    agents: { agents: docs.agents.agents.map((a) => ({ ...a })) },
  };
}

/**
 * Bumped when what the hash covers changes meaning (e.g. the renderer starts
 * using a field differently), so a PUT after a deploy is not wrongly a no-op.
 */
const HASH_FORMAT = 1;

/**
 * sha256 (hex) of the canonical, decrypted content of all three documents.
 * Ciphertexts differ on every seal and across key versions, so the hash is
 * taken over plaintext: re-sealing, re-ordering object keys, or PUTting the
 * same secret again gives the same hash; any change of content (a disabled
 * channel's token included) gives another. Compare it with the hash of what
 * was last applied to tell a no-op PUT from a change.
 */
export function effectiveHash(docs: StoredDocuments, keys?: Secret[]): string {
  const plain = decryptDocuments(docs, keys);
  return createHash("sha256").update(canonicalJson({ format: HASH_FORMAT, ...plain })).digest("hex");
}

/** Re-seals, under the newest key, any secret sealed under an older one (for key rotation). Same plaintexts, same hash. */
export function resealDocuments(docs: StoredDocuments, keys?: Secret[]): StoredDocuments {
  const r = (s: SealedSecret | null): SealedSecret | null =>
    s && needsReseal(s.sealed, keys) ? { sealed: seal(open(s.sealed, keys), keys), last4: s.last4 } : s;
  const { telegram, discord, slack } = docs.integrations;
  return {
    provider: docs.provider ? { ...docs.provider, api_key: r(docs.provider.api_key)! } : null,
    integrations: {
      telegram: { ...telegram, bot_token: r(telegram.bot_token) },
      discord: { ...discord, bot_token: r(discord.bot_token) },
      slack: { ...slack, bot_token: r(slack.bot_token), app_token: r(slack.app_token) },
    },
    agents: docs.agents,
  };
}
