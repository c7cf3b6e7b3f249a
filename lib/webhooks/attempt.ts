// One webhook delivery attempt: a single POST with node:http/https.
//
// - The URL is re-checked with checkWebhookUrl (scheme, credentials, IP literal,
//   names) and every DNS answer is checked at connect time by a guarded `lookup`
//   (see ssrf.ts), so a name that now resolves to a forbidden address (DNS
//   rebinding) is never connected to. IP literals never reach `lookup` in Node,
//   and are checked here before connecting.
// - Redirects are never followed: a 3xx is a failure.
// - One deadline (default 15 s) covers DNS, connect, TLS, headers and body.
// - At most MAX_RESPONSE_BYTES of the response body are read, then discarded.
// - Never throws; `error` strings describe what happened without echoing the
//   request headers, body or URL (no secrets, signatures or URL tokens).

import http from "node:http";
import https from "node:https";
import { performance } from "node:perf_hooks";
import {
  addressRefusal,
  checkWebhookUrl,
  createGuardedLookup,
  deliveryPolicy,
  urlHost,
  type LookupFn,
  type WebhookUrlMode,
} from "./ssrf";

export const ATTEMPT_TIMEOUT_MS = 15_000;
export const MAX_RESPONSE_BYTES = 4_096;
const MAX_ERROR_LENGTH = 300;
const USER_AGENT = "MyOpenClaw-Webhooks/1.0";

export type AttemptInput = {
  url: string;
  body: string;
  /** Extra request headers, typically the signHeaders() output. */
  headers: Record<string, string>;
  mode: WebhookUrlMode;
  timeoutMs?: number;
  /** DNS resolver (same shape as dns.promises.lookup with all: true); injectable for tests. */
  lookup?: LookupFn;
};

export type AttemptResult = {
  ok: boolean;
  responseStatus: number | null;
  durationMs: number;
  /** null when ok; otherwise a short description, never containing secrets. */
  error: string | null;
  /** The endpoint answered 410 Gone: it asked to be disabled. */
  disable: boolean;
};

function describeError(err: unknown): string {
  if (!(err instanceof Error)) return "request failed";
  const code = (err as NodeJS.ErrnoException).code;
  let message = err.message || err.name || "request failed";
  if (code && !message.includes(code)) message = `${code}: ${message}`;
  return message.length > MAX_ERROR_LENGTH ? message.slice(0, MAX_ERROR_LENGTH) + "..." : message;
}

class AttemptTimeoutError extends Error {
  readonly code = "ETIMEDOUT";
  constructor(ms: number) {
    super(`timed out after ${ms} ms`);
    this.name = "AttemptTimeoutError";
  }
}

export async function attemptDelivery(input: AttemptInput): Promise<AttemptResult> {
  const started = performance.now();
  const elapsed = () => Math.max(0, Math.round(performance.now() - started));
  const failure = (error: string, responseStatus: number | null = null, disable = false): AttemptResult => ({
    ok: false,
    responseStatus,
    durationMs: elapsed(),
    error,
    disable,
  });

  try {
    const { url, body, headers, mode, lookup } = input;
    const timeoutMs =
      typeof input.timeoutMs === "number" && Number.isFinite(input.timeoutMs) && input.timeoutMs > 0
        ? input.timeoutMs
        : ATTEMPT_TIMEOUT_MS;

    const checked = checkWebhookUrl(url, mode);
    if (!checked.ok) return failure(`URL refused: ${checked.reason}`);
    const target = checked.url;
    const policy = deliveryPolicy(target, mode);
    const { host, isIp } = urlHost(target);
    if (isIp) {
      // Node skips `lookup` for IP literals: check here (checkWebhookUrl already did; belt and braces).
      const refusal = addressRefusal(host, policy);
      if (refusal) return failure(`URL refused: ${refusal}`);
    }

    const payload = Buffer.from(typeof body === "string" ? body : String(body), "utf8");
    const requestHeaders: Record<string, string | number> = { "user-agent": USER_AGENT };
    for (const [name, value] of Object.entries(headers ?? {})) requestHeaders[name.toLowerCase()] = value;
    requestHeaders["content-type"] = "application/json";
    requestHeaders["content-length"] = payload.length;
    delete requestHeaders["host"];
    delete requestHeaders["transfer-encoding"];

    const isHttps = target.protocol === "https:";
    const options: https.RequestOptions = {
      method: "POST",
      protocol: target.protocol,
      hostname: host,
      port: target.port ? Number(target.port) : isHttps ? 443 : 80,
      path: `${target.pathname}${target.search}`,
      headers: requestHeaders,
      lookup: createGuardedLookup(policy, lookup),
      agent: false, // fresh connection per attempt: every connect goes through the guarded lookup
      setHost: true,
      ...(isHttps ? { servername: isIp ? undefined : host, rejectUnauthorized: true } : {}),
    };

    return await new Promise<AttemptResult>((resolve) => {
      let settled = false;
      let status: number | null = null;
      let req: http.ClientRequest | undefined;
      let res: http.IncomingMessage | undefined;

      const finish = (result: () => AttemptResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const r = result();
        res?.destroy();
        req?.destroy();
        resolve(r);
      };

      const fromStatus = (): AttemptResult => {
        const s = status as number;
        if (s >= 200 && s < 300) return { ok: true, responseStatus: s, durationMs: elapsed(), error: null, disable: false };
        if (s === 410) return failure("HTTP 410 Gone: the endpoint asked to be disabled", s, true);
        if (s >= 300 && s < 400) return failure(`HTTP ${s}: redirects are not followed`, s);
        return failure(`HTTP ${s}`, s);
      };

      const timer = setTimeout(() => {
        // Once a status arrived, the outcome is decided by it; only the body read is cut short.
        if (status !== null) finish(fromStatus);
        else finish(() => failure(describeError(new AttemptTimeoutError(timeoutMs))));
      }, timeoutMs);

      try {
        req = (isHttps ? https : http).request(options, (response) => {
          res = response;
          status = response.statusCode ?? null;
          if (status === null) return finish(() => failure("response without a status code"));
          let received = 0;
          response.on("data", (chunk: Buffer) => {
            received += chunk.length;
            if (received >= MAX_RESPONSE_BYTES) finish(fromStatus); // discard the rest
          });
          response.on("end", () => finish(fromStatus));
          response.on("error", () => finish(fromStatus));
          response.on("close", () => finish(fromStatus));
        });
      } catch (err) {
        return finish(() => failure(describeError(err)));
      }
      req.on("error", (err) => {
        if (status !== null) finish(fromStatus);
        else finish(() => failure(describeError(err)));
      });
      req.end(payload);
    });
  } catch (err) {
    return failure(describeError(err));
  }
}
