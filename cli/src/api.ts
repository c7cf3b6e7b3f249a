import createClient, { type Client } from "openapi-fetch";
// The API's types, generated from its OpenAPI document by `npm run generate:client`
// (openapi-typescript): paths, parameters, bodies and answers are all checked at build time.
import type { components, paths } from "../../examples/client/schema.js";
import type { Credentials } from "./credentials.js";
import { ApiProblemError, CliError, EXIT, type Problem } from "./errors.js";
import { VERSION } from "./version.js";

export type Api = Client<paths>;
export type Schemas = components["schemas"];
export type Operation = Schemas["Operation"];
/** The query parameters of a GET path, for typing options read from the command line. */
export type Query<P extends keyof paths> = paths[P] extends { get: { parameters: { query?: infer Q } } } ? NonNullable<Q> : never;

/** What an openapi-fetch call resolves to: the success body, or the error body. */
export type Answer<D, E> = { data: D; error?: never; response: Response } | { data?: never; error: E; response: Response };
/** The success body's type of an Answer. */
type Success<R> = R extends { data: infer D; error?: never } ? D : never;

/**
 * One command's connection to the API: the credentials, a typed client, and
 * `ok()`, which turns every non-2xx answer and every network failure into the
 * CliError that ends the command with its documented exit code.
 */
export class Session {
  #load: () => Credentials;
  #credentials: Credentials | undefined;
  #api: Api | undefined;
  #publicApi: Api | undefined;

  /** `credentials` may be a loader, called on first use (so `moc logout` works even beside an unreadable file). */
  constructor(credentials: Credentials | (() => Credentials)) {
    this.#load = typeof credentials === "function" ? credentials : () => credentials;
  }

  get credentials(): Credentials {
    this.#credentials ??= this.#load();
    return this.#credentials;
  }

  /** The client with the API key; throws the auth error when there is none. */
  get api(): Api {
    const { apiKey, baseUrl } = this.credentials;
    if (!apiKey) {
      throw new CliError(EXIT.auth, "No API key", [
        "Error: no API key.",
        "  Set MOC_API_KEY (and MOC_BASE_URL, the deployment's origin), or run `moc login`.",
      ]);
    }
    this.#api ??= client(baseUrl, apiKey);
    return this.#api;
  }

  /** The client without a key, for the endpoints that need none (`GET /regions`). */
  get publicApi(): Api {
    this.#publicApi ??= client(this.credentials.baseUrl, undefined);
    return this.#publicApi;
  }

  /** The success body and response of a typed call; anything else throws (ApiProblemError or CliError). */
  async ok<R extends Answer<unknown, unknown>>(call: Promise<R>): Promise<{ data: Success<R>; response: Response }> {
    let answer: R;
    try {
      answer = await call;
    } catch (err) {
      throw unreachable(this.credentials.baseUrl, err);
    }
    if (answer.error === undefined) return { data: answer.data as Success<R>, response: answer.response };
    throw this.problem(answer.response, answer.error);
  }

  /** The error for a non-2xx answer, with a hint where the fix is on this side. */
  problem(response: Response, body: unknown): ApiProblemError {
    const problem: Problem =
      typeof body === "object" && body !== null
        ? (body as Problem)
        : { title: `HTTP ${response.status} ${response.statusText}`.trim(), detail: typeof body === "string" ? body.slice(0, 500) : undefined };
    let hint: string | undefined;
    if (response.status === 401) {
      const from = this.credentials.source.apiKey;
      hint =
        from === "env"
          ? "The key came from MOC_API_KEY."
          : from === "file"
            ? "The key came from `moc login`; run it again with a valid key."
            : from === "login"
              ? "Check the key, and that the base URL is the deployment the key belongs to."
              : "Set MOC_API_KEY or run `moc login`.";
    }
    return new ApiProblemError(response.status, problem, response.headers, hint);
  }
}

function client(baseUrl: string, apiKey: string | undefined): Api {
  return createClient<paths>({
    baseUrl,
    headers: { "user-agent": `moc/${VERSION}`, ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
  });
}

/** A request that got no answer: refused, reset, or a name that does not resolve. */
export function unreachable(baseUrl: string, err: unknown): CliError {
  if (err instanceof CliError) return err;
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  const why = cause?.code ?? cause?.message ?? (err as Error)?.message ?? String(err);
  return new CliError(EXIT.server, `Cannot reach ${baseUrl}`, [
    `Error: cannot reach ${baseUrl} (${why}).`,
    "  Is the server running? MOC_BASE_URL (or `moc login --base-url`) names the deployment's origin.",
  ]);
}

/** The cursor of the next page, from a `Link: <...?cursor=X>; rel="next"` header (RFC 8288); undefined on the last page. */
export function nextCursor(response: Response): string | undefined {
  const link = response.headers.get("link");
  if (!link) return undefined;
  for (const part of link.split(",")) {
    const m = /<([^>]*)>\s*;(.*)$/.exec(part.trim());
    if (m && /(^|;)\s*rel="?next"?\s*(;|$)/i.test(m[2]!)) {
      try {
        return new URL(m[1]!, "http://x").searchParams.get("cursor") ?? undefined;
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
