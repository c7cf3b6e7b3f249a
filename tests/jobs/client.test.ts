import { afterEach, describe, expect, it, vi } from "vitest";
import { inngestClientOptions, INNGEST_APP_ID } from "@/inngest/client";
import { loadConfig, resetConfig } from "@/lib/config";

describe("the Inngest client", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    resetConfig();
    vi.resetModules();
  });

  it("imports without throwing in embedded mode, with only its id", async () => {
    expect(loadConfig(process.env).jobs).toEqual({ kind: "local" });
    const { inngest } = await import("@/inngest/client");
    expect(inngest.id).toBe("myopenclaw");
    expect(inngest.eventKey).toBeFalsy();
    // Nothing may be sent through it here: the local runner takes the events.
    await expect(inngest.send({ name: "test/nothing", data: {} })).rejects.toThrow();
  });

  it("takes its keys, dev mode and base URL from config()", async () => {
    vi.stubEnv("INNGEST_EVENT_KEY", "evt-key-123");
    vi.stubEnv("INNGEST_SIGNING_KEY", "signkey-prod-0123456789abcdef");
    vi.stubEnv("INNGEST_BASE_URL", "http://127.0.0.1:8288");
    resetConfig();
    vi.resetModules();
    const { inngest } = await import("@/inngest/client");
    expect(inngest.id).toBe(INNGEST_APP_ID);
    expect(inngest.eventKey).toBe("evt-key-123");
    expect(inngest.signingKey).toBe("signkey-prod-0123456789abcdef");
    expect(inngest.mode).toBe("cloud");
    expect(inngest.apiBaseUrl).toMatch(/^http:\/\/127\.0\.0\.1:8288/);
  });

  it("maps each setting of config().jobs", () => {
    expect(inngestClientOptions({ kind: "local" })).toEqual({ id: "myopenclaw" });
    expect(
      inngestClientOptions({ kind: "inngest", eventKey: undefined, signingKey: undefined, dev: true, baseUrl: undefined }),
    ).toMatchObject({ id: "myopenclaw", isDev: true });
  });
});
