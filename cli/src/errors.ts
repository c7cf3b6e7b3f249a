/**
 * The exit codes of `moc`, one table (documented in cli/README.md), and the
 * errors that carry them to `main`, which alone prints them and exits.
 */
export const EXIT = {
  ok: 0,
  /** An operation followed with --wait (or `moc ops wait`) ended `failed`; or an unexpected error. */
  failed: 1,
  /** Bad arguments or options, or the API refused the input (400, 405, 413, 415, 422). */
  usage: 2,
  /** No API key, or the API refused it (401), or it lacks a scope or the plan has no API access (403). */
  auth: 3,
  /** The resource does not exist in this account (404). */
  notFound: 4,
  /** The resource's state forbids the request: an operation in progress, a taken subdomain, an idempotency key in use or reused (409, 422 `idempotency_key_reused`). */
  conflict: 5,
  /** A rate limit is used up (429); stderr says how long to wait. */
  rateLimited: 6,
  /** The API failed (5xx), answered something unexpected, or could not be reached. */
  server: 7,
  /** --wait gave up (--timeout) before the operation finished; it goes on running. */
  timeout: 8,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The exit code for an API answer's status (and, for a few, its problem code). */
export function exitCodeFor(status: number, code?: string): ExitCode {
  if (code === "idempotency_key_reused") return EXIT.conflict;
  if (status === 401 || status === 403) return EXIT.auth;
  if (status === 404) return EXIT.notFound;
  if (status === 409) return EXIT.conflict;
  if (status === 429) return EXIT.rateLimited;
  if (status >= 400 && status < 500) return EXIT.usage;
  return EXIT.server;
}

/** An error that ends the command: `lines` go to stderr, then the process exits with `exitCode`. */
export class CliError extends Error {
  readonly exitCode: ExitCode;
  readonly lines: string[];

  constructor(exitCode: ExitCode, message: string, lines: string[] = []) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
    this.lines = lines;
  }
}

/** A problem+json document (RFC 9457) as the API answers it; further members may appear. */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  code?: string;
  request_id?: string;
  errors?: { path: string; message: string }[];
  [member: string]: unknown;
}

/** The API answered an error: its problem document, and what the headers add. */
export class ApiProblemError extends CliError {
  readonly status: number;
  readonly problem: Problem;
  /** Seconds, from `Retry-After`, when the answer carried one. */
  readonly retryAfter: number | undefined;

  constructor(status: number, problem: Problem, headers: Headers, hint?: string) {
    const requestId = problem.request_id ?? headers.get("x-request-id") ?? undefined;
    const retryAfter = parseRetryAfter(headers.get("retry-after"));
    const title = problem.title ?? `HTTP ${status}`;
    const lines = [`Error: ${title} (${status}${problem.code ? ` ${problem.code}` : ""})`];
    if (problem.detail) lines.push(`  ${problem.detail}`);
    // A single field error is usually the detail already; list the rest.
    for (const e of problem.errors ?? []) if (!problem.detail?.includes(e.message)) lines.push(`  - ${e.path || "body"}: ${e.message}`);
    if (retryAfter !== undefined && !problem.detail?.includes(`${retryAfter} s`)) lines.push(`  Retry after ${retryAfter} s.`);
    if (hint) lines.push(`  ${hint}`);
    if (requestId) lines.push(`  request_id: ${requestId}`);
    super(exitCodeFor(status, problem.code), problem.detail ?? title, lines);
    this.name = "ApiProblemError";
    this.status = status;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }
}

/**
 * `Retry-After` in seconds: delta-seconds or an HTTP date (RFC 9110, section 10.2.3).
 * Undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}
