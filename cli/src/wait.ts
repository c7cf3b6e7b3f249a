import type { Spinner } from "yocto-spinner";
import { unreachable, type Operation, type Session } from "./api.js";
import { CliError, EXIT, parseRetryAfter } from "./errors.js";
import { note, printJson, printLine } from "./output.js";

/** How long to wait between polls when the API gives no `Retry-After`. */
const DEFAULT_POLL_SECONDS = 2;
/** Answers that mean "ask again later" rather than "this failed": rate limited, the server briefly unwell. */
const TRANSIENT = new Set([429, 502, 503, 504]);
/** Transient answers or network failures in a row before giving up. */
const MAX_TRANSIENT = 5;

export const isFinished = (op: Operation) => op.status === "succeeded" || op.status === "failed";

/** Shows where an operation is: a spinner on a terminal, one plain line per change elsewhere (CI logs). */
interface Progress {
  status(op: Operation): void;
  note(text: string): void;
  tick(waitedSeconds: number): void;
  stop(): void;
}

async function progress(): Promise<Progress> {
  const interactive = Boolean(process.stderr.isTTY) && process.env.TERM !== "dumb" && !("CI" in process.env);
  const label = (op: Operation) => `${op.type} ${op.id}: ${op.status}`;
  if (!interactive) {
    let last = "";
    return {
      status(op) {
        if (label(op) !== last) note((last = label(op)));
      },
      note,
      tick() {},
      stop() {},
    };
  }
  const { default: yoctoSpinner } = await import("yocto-spinner"); // only a terminal needs it
  let spinner: Spinner | undefined;
  let text = "";
  let seconds = 0;
  const render = (extra = "") => {
    const line = `${text}${seconds > 0 ? ` · ${seconds} s` : ""}${extra}`;
    if (spinner) spinner.text = line;
    else spinner = yoctoSpinner({ text: line }).start();
  };
  return {
    status(op) {
      text = label(op);
      render();
    },
    note(line) {
      render(` (${line})`);
    },
    tick(waited) {
      seconds = waited;
      render();
    },
    stop() {
      spinner?.stop();
      spinner = undefined;
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `GET /operations/{id}` until the operation has succeeded or failed,
 * waiting what each answer's `Retry-After` asks (2 s when it says nothing), and
 * riding out rate limits and brief server trouble the same way. Returns the
 * finished operation; throws CliError(EXIT.timeout) after `timeoutSeconds`.
 */
export async function followOperation(session: Session, first: Operation, timeoutSeconds: number): Promise<Operation> {
  const started = Date.now();
  const show = await progress();
  let op = first;
  let transient = 0;
  try {
    for (;;) {
      if (isFinished(op)) return op;
      show.status(op);
      let delaySeconds = DEFAULT_POLL_SECONDS;
      const answer = await session.api
        .GET("/api/v1/operations/{id}", { params: { path: { id: op.id } } })
        .catch((err: unknown) => unreachable(session.credentials.baseUrl, err));
      if (answer instanceof CliError) {
        if (++transient > MAX_TRANSIENT) throw answer;
        show.note(`${answer.message}; trying again`);
      } else if (answer.data) {
        transient = 0;
        op = answer.data;
        if (isFinished(op)) return op;
        delaySeconds = parseRetryAfter(answer.response.headers.get("retry-after")) ?? DEFAULT_POLL_SECONDS;
      } else {
        const problem = session.problem(answer.response, answer.error);
        if (!TRANSIENT.has(answer.response.status) || ++transient > MAX_TRANSIENT) throw problem;
        delaySeconds = problem.retryAfter ?? DEFAULT_POLL_SECONDS;
        show.note(`${problem.problem.code ?? answer.response.status}, asking again in ${delaySeconds} s`);
      }
      const left = timeoutSeconds * 1000 - (Date.now() - started);
      if (left <= 0) {
        throw new CliError(EXIT.timeout, `Gave up waiting for ${op.id}`, [
          `Error: gave up after ${timeoutSeconds} s: ${op.type} ${op.id} is still ${op.status} (it goes on running).`,
          `  Follow it with: moc ops wait ${op.id}`,
        ]);
      }
      // Sleep in one-second steps so the spinner can show the time waited.
      const until = Date.now() + Math.min(delaySeconds * 1000, left);
      while (Date.now() < until) {
        await sleep(Math.min(1000, until - Date.now()));
        show.tick(Math.round((Date.now() - started) / 1000));
      }
    }
  } finally {
    show.stop();
  }
}

/** How long the operation took, by the server's clock. */
function took(op: Operation): string {
  const from = Date.parse(op.created_at);
  const to = op.completed_at ? Date.parse(op.completed_at) : NaN;
  return Number.isNaN(to) ? "" : ` in ${((to - from) / 1000).toFixed(1)} s`;
}

/**
 * Prints a finished operation (the API's JSON with --json, a line otherwise)
 * and, when it failed, throws the error that exits with EXIT.failed and its
 * code and message on stderr.
 */
export function reportFinished(op: Operation, json: boolean): void {
  if (json) printJson(op);
  if (op.status === "failed") {
    const code = op.error?.code ?? "unknown_error";
    const message = op.error?.message ?? "the operation failed without saying why";
    throw new CliError(EXIT.failed, `${op.type} ${op.id} failed: ${code}: ${message}`, [
      `Error: ${op.type} ${op.id} failed${took(op)}.`,
      `  ${code}: ${message}`,
    ]);
  }
  if (!json) printLine(`${op.type} ${op.id} ${op.status}${took(op)} (instance ${op.instance_id})`);
}

/** Prints an operation that was just accepted and is not being followed. */
export function reportStarted(op: Operation, json: boolean): void {
  if (json) return printJson(op);
  printLine(`${op.type} ${op.id} ${op.status} (instance ${op.instance_id})`);
  note(`Follow it with: moc ops wait ${op.id}`);
}
