import { PLANS, type PlanName } from "../plans";
import { SCOPES, SCOPE_SHORTCUTS } from "../scopes";

/**
 * The words and examples shared by the OpenAPI description, /docs/errors and
 * the landing page, written against this deployment's own base URL so that
 * every example can be pasted as it is.
 */

export interface Snippet {
  title: string;
  text: string;
  language: "shell" | "yaml" | "python" | "json";
  code: string;
}

/** A small inline icon, so that no page asks for a /favicon.ico that is not there. */
export const FAVICON =
  "data:image/svg+xml," +
  encodeURIComponent(
    "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'><rect width='32' height='32' rx='7' fill='#1d4ed8'/><path d='M8 23V9l8 9 8-9v14' fill='none' stroke='#fff' stroke-width='3' stroke-linejoin='round'/></svg>",
  );

/** `https://host` without a trailing slash. */
export type BaseUrl = string;

/** What each scope allows, in the order of SCOPES. */
export const SCOPE_DESCRIPTIONS: Record<(typeof SCOPES)[number], string> = {
  "instance:read": "List and read instances, and scrape their metrics (`GET /metrics`)",
  "instance:write": "Create, start, stop, restart and delete instances",
  "provider:read": "Read an instance's model provider settings (secrets shown as `last4` only)",
  "provider:write": "Replace an instance's model provider settings",
  "integrations:read": "Read an instance's channel integrations (Telegram, Discord, Slack)",
  "integrations:write": "Replace an instance's channel integrations",
  "agents:read": "Read an instance's agents",
  "agents:write": "Replace an instance's agents",
  "operations:read": "List and poll operations",
  "keys:read": "List and read API keys (never their tokens)",
  "keys:write": "Create and revoke API keys",
  "webhooks:read": "List and read webhook endpoints, their deliveries, and the events they deliver (`GET /events`)",
  "webhooks:write": "Create, change, delete webhook endpoints and rotate their secrets",
  "backups:read": "List an instance's backups",
  "backups:write": "Back up an instance, and restore it from a backup (which replaces its data)",
};

export const SHORTCUT_DESCRIPTIONS: Record<keyof typeof SCOPE_SHORTCUTS, string> = {
  read: `every \`:read\` scope (${SCOPE_SHORTCUTS.read.join(", ")})`,
  write: "every scope",
  all: "every scope",
};

/** Monthly prices in USD, as on the product page. The limits live in lib/plans.ts. */
export const PLAN_PRICES: Partial<Record<PlanName, number>> = { pro: 49, business: 99 };

/** The plans with API access, as the landing page and the reference show them. */
export const API_PLANS = (Object.keys(PLANS) as PlanName[])
  .filter((name) => PLANS[name].apiAccess)
  .map((name) => ({ name, ...PLANS[name], price: PLAN_PRICES[name] ?? null }));

export function quickStart(base: BaseUrl): Snippet[] {
  return [
    {
      title: "1. Get an API key",
      text:
        "API access comes with the Pro and Business plans. Keys look like `moc_<short>_<long>`; the full token is shown once, when the key is created. " +
        "Running this deployment yourself? Its first start in embedded mode prints a demo key with every scope, and an operator can make more with `npm run admin -- create-key --email you@example.com --plan pro`.",
      language: "shell",
      code: 'export API_KEY="moc_..."',
    },
    {
      title: "2. Check it",
      text: "Every endpoint but `/regions` and `/openapi.json` needs the key as a bearer token. This one answers the account's plan, limits and usage.",
      language: "shell",
      code: `curl -H "Authorization: Bearer $API_KEY" \\\n  ${base}/api/v1/account`,
    },
    {
      title: "3. Create an instance",
      text:
        "Long-running work answers `202 Accepted` at once with an operation, and `Operation-Location` says where to poll it. " +
        "An `Idempotency-Key` makes the request safe to retry: the same key and body never create a second instance.",
      language: "shell",
      code:
        `curl -X POST ${base}/api/v1/instances \\\n` +
        `  -H "Authorization: Bearer $API_KEY" \\\n` +
        `  -H "Content-Type: application/json" \\\n` +
        `  -H "Idempotency-Key: $(uuidgen)" \\\n` +
        `  -d '{"subdomain": "my-assistant", "fly_region": "dfw"}'`,
    },
    {
      title: "4. Wait for it",
      text: "Poll the operation until its `status` is `succeeded` or `failed` (while it runs, the answer carries `Retry-After`), or register a webhook for `operation.succeeded` and `operation.failed`.",
      language: "shell",
      code: `curl -H "Authorization: Bearer $API_KEY" \\\n  ${base}/api/v1/operations/op_...`,
    },
  ];
}

/**
 * How to add this deployment's MCP server (/api/mcp, lib/mcp/) to an MCP
 * client: the `mcpServers` entry that Claude Code, Claude Desktop, Cursor and
 * VS Code read, with the Streamable HTTP URL and the API key as a bearer token.
 */
export function mcpClientConfig(base: BaseUrl): Snippet {
  return {
    title: "Connect an AI assistant (MCP)",
    text:
      "The same API is an MCP server at `/api/mcp` (Streamable HTTP, stateless), so an assistant can manage the fleet when asked: " +
      "list, create, start, stop, restart and delete instances and wait for their operations, read and set their provider, integrations and agents, manage keys and webhooks. " +
      "It takes the same API keys, with the same scopes and rate limits: give it a key with only the scopes it should have (e.g. `read`). " +
      "Add it to your client's MCP configuration:",
    language: "json",
    code: JSON.stringify(
      { mcpServers: { myopenclaw: { type: "http", url: `${base}/api/mcp`, headers: { Authorization: "Bearer moc_..." } } } },
      null,
      2,
    ),
  };
}

/** The product page's examples, pointed at this deployment. */
export function useCases(base: BaseUrl): Snippet[] {
  return [
    {
      title: "CI/CD Integration",
      text: "Restart instances after deploying new configurations. Use idempotency keys to prevent duplicate operations from retries.",
      language: "yaml",
      code: [
        "# GitHub Actions",
        "- name: Restart instance",
        "  run: |",
        "    curl -X POST \\",
        '      -H "Authorization: Bearer ${{ secrets.API_KEY }}" \\',
        '      -H "Idempotency-Key: ${{ github.sha }}" \\',
        `      ${base}/api/v1/instances/$ID/restart`,
      ].join("\n"),
    },
    {
      title: "Monitoring Dashboard",
      text: "Poll instance status for custom uptime monitoring and alerting. Build Grafana dashboards or Datadog integrations.",
      language: "shell",
      code: [
        "# Check all instance statuses",
        'curl -s -H "Authorization: Bearer $API_KEY" \\',
        `  ${base}/api/v1/instances | \\`,
        "  jq '.[] | {subdomain, status, fly_region}'",
      ].join("\n"),
    },
    {
      title: "Fleet Management",
      text: "Manage multiple instances from a single script. Perfect for agencies running AI assistants for multiple clients.",
      language: "python",
      code: [
        "import requests",
        "",
        'API_KEY = "moc_abc123_xyz789..."',
        `BASE = "${base}/api/v1"`,
        "",
        "instances = requests.get(",
        '    f"{BASE}/instances",',
        '    headers={"Authorization": f"Bearer {API_KEY}"}',
        ").json()",
        "",
        "for inst in instances:",
        "    print(f\"{inst['subdomain']}: {inst['status']}\")",
      ].join("\n"),
    },
  ];
}

/** The hero example of the product page. */
export function heroExample(base: BaseUrl): { command: string; output: string } {
  return {
    command: `curl -H "Authorization: Bearer moc_abc..._xyz..." \\\n    ${base}/api/v1/instances`,
    output: JSON.stringify(
      [{ id: "inst_abc123", subdomain: "my-assistant", status: "running", plan: "pro", fly_region: "dfw" }],
      null,
      2,
    ),
  };
}

const table = (head: string[], rows: string[][]) =>
  [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");

/** The OpenAPI document's `info.description`: Markdown, rendered by the reference at /docs. */
export function apiDescription(base: BaseUrl): string {
  const fence = (s: Snippet) => `\`\`\`${s.language === "shell" ? "bash" : s.language}\n${s.code}\n\`\`\``;
  return [
    "Manage hosted OpenClaw assistants (instances) from scripts, CI/CD pipelines, monitoring dashboards and fleet tools: " +
      "create, start, stop, restart and delete instances, configure them, follow long-running operations, manage scoped API keys and webhooks.",
    "",
    "JSON in, JSON out, snake_case fields. Lists are bare JSON arrays. Every response carries `X-Request-Id`.",
    "",
    "## Quick start",
    "",
    ...quickStart(base).flatMap((s) => [`**${s.title}.** ${s.text}`, "", fence(s), ""]),
    "## Authentication and scopes",
    "",
    "Send `Authorization: Bearer moc_<short>_<long>`. Requests that carry a `Cookie` header are refused: keys only, no browser sessions. " +
      "Each key holds scopes; each operation below names the one it needs. A key can never create a key with a scope it does not hold itself.",
    "",
    table(
      ["scope", "allows"],
      SCOPES.map((s) => [`\`${s}\``, SCOPE_DESCRIPTIONS[s]]),
    ),
    "",
    "Shortcuts, accepted wherever scopes are given: " +
      Object.entries(SHORTCUT_DESCRIPTIONS)
        .map(([k, v]) => `\`${k}\` = ${v}`)
        .join("; ") +
      ".",
    "",
    "## Rate limits",
    "",
    "Per key and per minute, by class: *read* is any GET, *heavy* a request that starts an operation, *write* any other change. " +
      "All of an account's keys also share one ceiling.",
    "",
    table(
      ["plan", "instances", "read / write / heavy per key", "per account"],
      API_PLANS.map((p) => [p.name, String(p.instances), `${p.rate.read} / ${p.rate.write} / ${p.rate.heavy}`, p.accountPerMinute.toLocaleString("en-US")]),
    ),
    "",
    "Every authenticated answer carries `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (Unix seconds) and the IETF draft's `RateLimit-Policy` and `RateLimit`. " +
      "Over a limit the answer is `429 rate_limited` with `Retry-After`; if the limiter itself cannot answer, `503 rate_limiter_unavailable`, and nothing was executed.",
    "",
    "## Idempotency",
    "",
    "Send `Idempotency-Key` (1-255 printable characters) on any POST, PUT, PATCH or DELETE. For 24 hours, the same key with the same request replays the first answer with `Idempotent-Replayed: true`; " +
      "with a different request it is `422 idempotency_key_reused`, and while the first is still executing `409 idempotency_key_in_use`.",
    "",
    "## Operations",
    "",
    "Creating, starting, stopping, restarting, deleting and reconfiguring an instance answer `202` with an operation and `Location`/`Operation-Location` headers. " +
      "One operation at a time per instance (`409 operation_in_progress`). Wherever an instance id is taken, its subdomain is accepted too.",
    "",
    "## Pagination",
    "",
    "Lists that can grow without bound take `limit` (1-100) and `cursor`; when more items follow, the answer has `Link: <...>; rel=\"next\"`.",
    "",
    "## Errors",
    "",
    "Errors are `application/problem+json` (RFC 9457) with a stable `code`; `type` links to its entry in the [error reference](/docs/errors).",
    "",
    "## MCP server",
    "",
    `${mcpClientConfig(base).text}`,
    "",
    fence(mcpClientConfig(base)),
    "",
    "Each tool is one endpoint of this reference: its scope, its rate class, its input schema. Tools that change an instance answer an operation at once; " +
      "`wait_for_operation` waits up to 60 s for its end. Tools that change something take an optional `idempotency_key`: this API's `Idempotency-Key`, the same records. An error is a tool result with `isError` carrying the problem's `code`, `detail` and `request_id`.",
  ].join("\n");
}
