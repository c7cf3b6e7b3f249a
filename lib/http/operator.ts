import { z } from "zod";
import { installedDeps } from "../deps";
import { ApiError } from "../errors";
import { log } from "../log";
import { parseCommandArgs, UsageError } from "../operator/command";
import { findCommand } from "../operator/commands";
import { operatorToken, operatorTokenMatches } from "../operator/access";
import { parseBody } from "./body";
import { problemResponse, requestIdFrom } from "./problem";
import { problem, toApiError } from "./route";

const runBody = z.strictObject({
  /** The command's name, e.g. "create-key" or "versions add". */
  command: z.string().min(1).max(100),
  args: z.record(z.string(), z.unknown()).default({}),
});

/**
 * POST /api/operator/run `{command, args}`: runs an operator command in this
 * server (see lib/operator). Authenticated with the operator token, never an
 * API key; absent (404) when no operator token is configured. Answers
 * `{text, json}`, the command's result.
 */
async function run(req: Request): Promise<Response> {
  try {
    const expected = operatorToken();
    if (expected === null) throw new ApiError("route_not_found", `No route ${new URL(req.url).pathname}.`);
    if (req.headers.has("cookie")) throw new ApiError("cookies_not_allowed", "Operator requests carry no cookies.");
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.get("authorization") ?? "");
    if (!m || !operatorTokenMatches(m[1]!, expected)) {
      throw new ApiError("invalid_operator_token", "Send the operator token as `Authorization: Bearer <token>` (OPERATOR_TOKEN, or DATA_DIR/operator-token in embedded mode).");
    }
    const { value } = await parseBody(req, runBody);
    const found = findCommand(value!.command.split(" "));
    if (!found || found.used !== value!.command.split(" ").length) {
      throw new ApiError("validation_error", `Unknown operator command ${JSON.stringify(value!.command)}.`);
    }
    const args = parseCommandArgs(found.command, value!.args);
    const deps = installedDeps();
    const result = await found.command.run({ db: await deps.db(), send: deps.send, now: deps.now, compute: deps.compute }, args);
    log.info("operator command", { command: found.command.name });
    return Response.json(result, { headers: { "cache-control": "no-store" } });
  } catch (err) {
    // As the API answers: a store that cannot be reached (the database; the rate limiter's, for a change to keys, plans
    // or limits, which then rolled back) is 503; anything unexpected is 500, logged once by toApiError.
    const requestId = requestIdFrom(req.headers.get("x-request-id"));
    const apiError = err instanceof UsageError ? new ApiError("validation_error", err.message) : toApiError(err, requestId);
    return problemResponse(apiError, requestId);
  }
}

const notAllowed = async (req: Request) =>
  problem(req, new ApiError("method_not_allowed", `${req.method} is not allowed here. Allowed: POST.`, { headers: { allow: "POST" } }));

export const operatorRoute = { POST: run, GET: notAllowed, PUT: notAllowed, PATCH: notAllowed, DELETE: notAllowed };
