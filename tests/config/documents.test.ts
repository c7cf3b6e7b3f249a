import { describe, expect, it } from "vitest";
import type { Secret } from "@/lib/config";
import { open } from "@/lib/crypto";
import { ApiError, type FieldError } from "@/lib/errors";
import {
  decryptDocuments,
  defaults,
  effectiveHash,
  resealDocuments,
  toPublic,
  toStored,
  type StoredDocuments,
} from "@/lib/openclaw/documents";
import { agentsResource, integrationsResource, providerResource } from "@/lib/schemas/config";
import {
  ALL_SECRETS,
  ANTHROPIC_KEY,
  ANTHROPIC_KEY_2,
  DISCORD_TOKEN,
  OPENAI_KEY,
  SLACK_APP,
  SLACK_BOT,
  TELEGRAM_TOKEN,
  TELEGRAM_TOKEN_2,
} from "./fixtures";

function errorsOf(fn: () => unknown): FieldError[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    return (err as ApiError).extra.errors as FieldError[];
  }
  throw new Error("expected a validation error, none was thrown");
}

/** No secret of the fixtures appears anywhere in `value`, serialized. */
function expectNoSecrets(value: unknown) {
  const text = JSON.stringify(value);
  for (const s of ALL_SECRETS) expect(text).not.toContain(s);
}

const anthropic = () => toStored("provider", { provider: "anthropic", model: "claude-sonnet-4-5", api_key: ANTHROPIC_KEY }, null);
const channels = () =>
  toStored(
    "integrations",
    {
      telegram: { enabled: true, bot_token: TELEGRAM_TOKEN },
      discord: { enabled: false, bot_token: DISCORD_TOKEN },
      slack: { enabled: true, bot_token: SLACK_BOT, app_token: SLACK_APP },
    },
    null,
  );
const team = () =>
  toStored(
    "agents",
    {
      agents: [
        { id: "main", name: "Ada", instructions: "Be brief." },
        { id: "research", name: "Scout", model: "claude-opus-4-1", instructions: "Cite sources." },
      ],
    },
    null,
  );
const everything = (): StoredDocuments => ({ provider: anthropic(), integrations: channels(), agents: team() });

describe("secrets at rest", () => {
  it("are sealed: the stored documents never hold a plaintext secret", () => {
    const docs = everything();
    expectNoSecrets(docs);
    expect(docs.provider!.api_key.sealed).toMatch(/^v1\./);
    expect(open(docs.provider!.api_key.sealed)).toBe(ANTHROPIC_KEY);
    expect(open(docs.integrations.slack.app_token!.sealed)).toBe(SLACK_APP);
  });

  it("keep their last four characters beside the ciphertext", () => {
    const docs = everything();
    expect(docs.provider!.api_key.last4).toBe("AnT1");
    expect(docs.integrations.telegram.bot_token!.last4).toBe("Tg42");
    expect(docs.integrations.discord.bot_token!.last4).toBe("Dc99");
  });

  it("are sealed afresh each time (a new IV), so two stores of one key differ", () => {
    expect(anthropic().api_key.sealed).not.toBe(anthropic().api_key.sealed);
  });
});

describe("toPublic", () => {
  it("shows secrets as {set, last4} and nothing more, in the documented shapes", () => {
    const docs = everything();
    const provider = toPublic("provider", docs.provider);
    const integrations = toPublic("integrations", docs.integrations);
    const agents = toPublic("agents", docs.agents);

    expect(provider).toEqual({ provider: "anthropic", model: "claude-sonnet-4-5", api_key: { set: true, last4: "AnT1" } });
    expect(integrations).toEqual({
      telegram: { enabled: true, bot_token: { set: true, last4: "Tg42" } },
      discord: { enabled: false, bot_token: { set: true, last4: "Dc99" } },
      slack: { enabled: true, bot_token: { set: true, last4: "Sb01" }, app_token: { set: true, last4: "Sa02" } },
    });
    expect(agents).toEqual({
      agents: [
        { id: "main", name: "Ada", model: null, instructions: "Be brief.", default: true },
        { id: "research", name: "Scout", model: "claude-opus-4-1", instructions: "Cite sources.", default: false },
      ],
    });
    for (const v of [provider, integrations, agents]) expectNoSecrets(v);
    expect(JSON.stringify(integrations)).not.toContain("sealed");
    // and they are what the OpenAPI document says a GET answers
    expect(providerResource.parse(provider)).toEqual(provider);
    expect(integrationsResource.parse(integrations)).toEqual(integrations);
    expect(agentsResource.parse(agents)).toEqual(agents);
  });

  it("answers the defaults of a new instance", () => {
    expect(toPublic("provider", defaults.provider)).toEqual({ provider: null, model: null, api_key: { set: false, last4: null } });
    expect(toPublic("integrations", defaults.integrations)).toEqual({
      telegram: { enabled: false, bot_token: { set: false, last4: null } },
      discord: { enabled: false, bot_token: { set: false, last4: null } },
      slack: { enabled: false, bot_token: { set: false, last4: null }, app_token: { set: false, last4: null } },
    });
    expect(toPublic("agents", defaults.agents)).toEqual({
      agents: [{ id: "main", name: "Assistant", model: null, instructions: "", default: true }],
    });
    expect(Object.isFrozen(defaults.agents.agents[0])).toBe(true);
  });
});

describe("a PUT that leaves a secret out", () => {
  it("keeps the stored provider key while the provider stays the same", () => {
    const before = anthropic();
    const after = toStored("provider", { provider: "anthropic", model: "claude-opus-4-1" }, before);
    expect(after).toEqual({ provider: "anthropic", model: "claude-opus-4-1", api_key: before.api_key });
  });

  it("is refused on create: there is no stored key to keep", () => {
    expect(errorsOf(() => toStored("provider", { provider: "anthropic", model: "claude-sonnet-4-5" }, null))).toEqual([
      { path: "api_key", message: "Required: no API key is stored for this instance yet." },
    ]);
  });

  it("is refused when the provider changes: an Anthropic key is never sent to OpenAI", () => {
    expect(errorsOf(() => toStored("provider", { provider: "openai", model: "gpt-5" }, anthropic()))).toEqual([
      { path: "api_key", message: "Required when changing provider from `anthropic` to `openai`: the stored key is anthropic's." },
    ]);
    const switched = toStored("provider", { provider: "openai", model: "gpt-5", api_key: OPENAI_KEY }, anthropic());
    expect(open(switched.api_key.sealed)).toBe(OPENAI_KEY);
  });

  it("replaces the key when a new one is given", () => {
    const after = toStored("provider", { provider: "anthropic", model: "claude-sonnet-4-5", api_key: ANTHROPIC_KEY_2 }, anthropic());
    expect(after.api_key.last4).toBe("AnT2");
    expect(open(after.api_key.sealed)).toBe(ANTHROPIC_KEY_2);
  });

  it("keeps a channel's stored token, field by field", () => {
    const before = channels();
    const after = toStored("integrations", { telegram: { enabled: true }, slack: { enabled: true, app_token: SLACK_APP } }, before);
    expect(after.telegram.bot_token).toEqual(before.telegram.bot_token);
    expect(after.slack.bot_token).toEqual(before.slack.bot_token);
    expect(after.slack.app_token!.sealed).not.toBe(before.slack.app_token!.sealed); // given again: sealed again
    expect(open(after.slack.app_token!.sealed)).toBe(SLACK_APP);
  });

  it("disables a channel left out of the body but keeps its token, so it can be re-enabled without it", () => {
    const before = channels();
    const off = toStored("integrations", { slack: { enabled: true } }, before);
    expect(off.telegram).toEqual({ enabled: false, bot_token: before.telegram.bot_token });
    const on = toStored("integrations", { telegram: { enabled: true }, slack: { enabled: true } }, off);
    expect(on.telegram).toEqual({ enabled: true, bot_token: before.telegram.bot_token });
  });

  it("removes a token given as null, and refuses that for an enabled channel", () => {
    const before = channels();
    const removed = toStored("integrations", { telegram: { enabled: false, bot_token: null }, slack: { enabled: true } }, before);
    expect(removed.telegram).toEqual({ enabled: false, bot_token: null });
    expect(errorsOf(() => toStored("integrations", { telegram: { enabled: true, bot_token: null } }, before))).toEqual([
      { path: "telegram.bot_token", message: "Cannot remove the bot_token of an enabled channel." },
    ]);
    expect(errorsOf(() => toStored("integrations", { telegram: { enabled: true } }, removed))).toEqual([
      { path: "telegram.bot_token", message: "Required to enable telegram: no bot_token is stored." },
    ]);
  });
});

describe("effectiveHash", () => {
  it("is a sha256 hex digest, the same for the same documents", () => {
    const docs = everything();
    expect(effectiveHash(docs)).toMatch(/^[0-9a-f]{64}$/);
    expect(effectiveHash(docs)).toBe(effectiveHash(structuredClone(docs)));
  });

  it("does not change when the same secrets are sealed again (new IVs)", () => {
    const a = everything();
    const b = everything();
    expect(a.provider!.api_key.sealed).not.toBe(b.provider!.api_key.sealed);
    expect(effectiveHash(a)).toBe(effectiveHash(b));
  });

  it("does not change when secrets are re-sealed under a new key version", () => {
    const v1: Secret = { version: 1, value: Buffer.alloc(32, 7).toString("base64") }; // tests/setup.ts's key
    const v2: Secret = { version: 2, value: Buffer.alloc(32, 9).toString("base64") };
    const docs = everything();
    const resealed = resealDocuments(docs, [v2, v1]);
    expect(resealed.provider!.api_key.sealed).toMatch(/^v2\./);
    expect(resealed.integrations.slack.app_token!.sealed).toMatch(/^v2\./);
    expect(resealed.integrations.telegram.bot_token!.last4).toBe("Tg42");
    expectNoSecrets(resealed);
    expect(effectiveHash(resealed, [v2, v1])).toBe(effectiveHash(docs));
    // and with only the new key, the re-sealed documents still open
    expect(decryptDocuments(resealed, [v2]).provider!.api_key).toBe(ANTHROPIC_KEY);
  });

  it("does not depend on the order of object keys", () => {
    const docs = everything();
    const reversed = JSON.parse(JSON.stringify(docs), (_k, v) =>
      v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v,
    ) as StoredDocuments;
    expect(Object.keys(reversed)).toEqual(["agents", "integrations", "provider"]);
    expect(effectiveHash(reversed)).toBe(effectiveHash(docs));
  });

  it("is the same for a PUT of the same documents, secrets given again or left out", () => {
    const docs = everything();
    const again: StoredDocuments = {
      provider: toStored("provider", { provider: "anthropic", model: "claude-sonnet-4-5", api_key: ANTHROPIC_KEY }, docs.provider),
      integrations: toStored(
        "integrations",
        { telegram: { enabled: true }, discord: { enabled: false }, slack: { enabled: true, bot_token: SLACK_BOT } },
        docs.integrations,
      ),
      // `default: true` on the first agent is what leaving it out means
      agents: toStored(
        "agents",
        {
          agents: [
            { id: "main", name: "Ada", instructions: "Be brief.", default: true },
            { id: "research", name: "Scout", model: "claude-opus-4-1", instructions: "Cite sources." },
          ],
        },
        docs.agents,
      ),
    };
    expect(effectiveHash(again)).toBe(effectiveHash(docs));
  });

  it("changes when anything changes, a secret included", () => {
    const docs = everything();
    const base = effectiveHash(docs);
    const variants: StoredDocuments[] = [
      { ...docs, provider: toStored("provider", { provider: "anthropic", model: "claude-opus-4-1" }, docs.provider) },
      { ...docs, provider: toStored("provider", { provider: "anthropic", model: "claude-sonnet-4-5", api_key: ANTHROPIC_KEY_2 }, docs.provider) },
      { ...docs, provider: null },
      { ...docs, integrations: toStored("integrations", { telegram: { enabled: true, bot_token: TELEGRAM_TOKEN_2 }, slack: { enabled: true } }, docs.integrations) },
      { ...docs, integrations: toStored("integrations", { telegram: { enabled: false }, slack: { enabled: true } }, docs.integrations) },
      { ...docs, integrations: toStored("integrations", { telegram: { enabled: true }, discord: { enabled: false, bot_token: null }, slack: { enabled: true } }, docs.integrations) },
      { ...docs, agents: { agents: docs.agents.agents.map((a) => (a.id === "main" ? { ...a, instructions: "Be very brief." } : a)) } },
      { ...docs, agents: { agents: docs.agents.agents.map((a, i) => ({ ...a, default: i === 1 })) } },
      { ...docs, agents: { agents: [...docs.agents.agents].reverse() } },
    ];
    const hashes = variants.map((v) => effectiveHash(v));
    for (const h of hashes) expect(h).not.toBe(base);
    expect(new Set(hashes).size).toBe(hashes.length);
  });

  it("never needs a plaintext secret in its input or shows one in its output", () => {
    const docs = everything();
    expectNoSecrets(docs);
    expectNoSecrets(effectiveHash(docs));
  });
});

describe("decryptDocuments", () => {
  it("opens every secret for the renderer", () => {
    expect(decryptDocuments(everything())).toEqual({
      provider: { provider: "anthropic", model: "claude-sonnet-4-5", api_key: ANTHROPIC_KEY },
      integrations: {
        telegram: { enabled: true, bot_token: TELEGRAM_TOKEN },
        discord: { enabled: false, bot_token: DISCORD_TOKEN },
        slack: { enabled: true, bot_token: SLACK_BOT, app_token: SLACK_APP },
      },
      agents: team(),
    });
  });

  it("takes the defaults of a new instance", () => {
    expect(decryptDocuments(defaults as StoredDocuments).provider).toBeNull();
  });
});
