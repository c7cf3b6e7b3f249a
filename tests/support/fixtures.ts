import { getDb } from "@/db/client";
import { apiKey, operation } from "@/db/schema";
import { eq } from "drizzle-orm";
import { installDeps, installedDeps } from "@/lib/deps";
import { operationRequestedEvent } from "@/lib/jobs/events";
import type { PlanName } from "@/lib/plans";
import type { Scope, ScopeShortcut } from "@/lib/scopes";
import type { LimitOverrides } from "@/lib/plans";
import { setLimitOverrides, upsertAccount } from "@/lib/services/accounts";
import { insertKey } from "@/lib/services/keys";

let counter = 0;

export interface TestAccount {
  accountId: string;
  email: string;
  token: string;
  keyId: string;
}

/** A new account with one key (all scopes unless told otherwise). */
export async function createAccount(
  opts: { plan?: PlanName; scopes?: (Scope | ScopeShortcut)[]; email?: string; limits?: LimitOverrides } = {},
): Promise<TestAccount> {
  const db = await getDb();
  const email = opts.email ?? `user${++counter}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;
  const acct = await upsertAccount(db, email, opts.plan ?? "pro");
  if (opts.limits) await setLimitOverrides(db, email, opts.limits);
  const key = await insertKey(db, acct.id, { name: "test", scopes: opts.scopes ?? ["all"] });
  return { accountId: acct.id, email, token: key.token, keyId: key.id };
}

/** Another key on an existing account. */
export async function createKeyFor(accountId: string, opts: { scopes?: (Scope | ScopeShortcut)[]; expiresAt?: Date } = {}) {
  const db = await getDb();
  return insertKey(db, accountId, { name: "extra", scopes: opts.scopes ?? ["all"], expiresAt: opts.expiresAt ?? null });
}

/** Makes a key look expired (an expiry in the past cannot be created through the API). */
export async function expireKey(keyId: string) {
  const db = await getDb();
  await db.update(apiKey).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(apiKey.id, keyId));
}

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** A small HTTP client like a user's script: JSON in, JSON out. */
export function client(baseUrl: string, token?: string, extraHeaders: Record<string, string> = {}) {
  const call = async <T = any>(method: string, path: string, opts: { body?: unknown; rawBody?: string; headers?: Record<string, string> } = {}): Promise<ApiResponse<T>> => { // eslint-disable-line @typescript-eslint/no-explicit-any
    const headers: Record<string, string> = { ...extraHeaders, ...opts.headers };
    if (token && !("authorization" in headers)) headers.authorization = `Bearer ${token}`;
    let body: string | undefined = opts.rawBody;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers["content-type"] ??= "application/json";
    }
    const res = await fetch(new URL(path, baseUrl), { method, headers, body, redirect: "manual" });
    const text = await res.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, body: parsed as T, text };
  };
  return {
    get: <T = any>(p: string, o?: { headers?: Record<string, string> }) => call<T>("GET", p, o), // eslint-disable-line @typescript-eslint/no-explicit-any
    post: <T = any>(p: string, body?: unknown, o?: { headers?: Record<string, string> }) => call<T>("POST", p, { ...o, body }), // eslint-disable-line @typescript-eslint/no-explicit-any
    put: <T = any>(p: string, body?: unknown, o?: { headers?: Record<string, string> }) => call<T>("PUT", p, { ...o, body }), // eslint-disable-line @typescript-eslint/no-explicit-any
    patch: <T = any>(p: string, body?: unknown, o?: { headers?: Record<string, string> }) => call<T>("PATCH", p, { ...o, body }), // eslint-disable-line @typescript-eslint/no-explicit-any
    delete: <T = any>(p: string, o?: { headers?: Record<string, string> }) => call<T>("DELETE", p, o), // eslint-disable-line @typescript-eslint/no-explicit-any
    raw: call,
  };
}

/** Polls an operation until it has finished, as a user's script would. */
export async function waitForOperation(api: ReturnType<typeof client>, opId: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await api.get(`/api/v1/operations/${opId}`);
    if (res.status !== 200) throw new Error(`GET operation ${opId}: ${res.status} ${res.text}`);
    if (res.body.status === "succeeded" || res.body.status === "failed") return res;
    if (Date.now() > deadline) throw new Error(`operation ${opId} still ${res.body.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Creates an instance through the API and waits until it runs. */
export async function createRunningInstance(api: ReturnType<typeof client>, subdomain: string, extra: Record<string, unknown> = {}) {
  const res = await api.post("/api/v1/instances", { subdomain, ...extra });
  if (res.status !== 202) throw new Error(`create ${subdomain}: ${res.status} ${res.text}`);
  const op = await waitForOperation(api, res.body.id);
  if (op.body.status !== "succeeded") throw new Error(`create ${subdomain} failed: ${op.text}`);
  return { id: op.body.instance_id as string, operationId: res.body.id as string };
}

let subdomainCounter = 0;
/** A subdomain no other test uses. */
export function uniqueSubdomain(prefix = "box"): string {
  return `${prefix}-${process.pid}-${++subdomainCounter}-${Math.random().toString(36).slice(2, 6)}`;
}

/**
 * Until `resume()`, the events requests send reach no runner: an operation a request starts
 * stays pending, so a test can look at the API while it is unfinished, however fast the
 * machine. `resume()` installs the process's dependencies again and hands their runner these
 * operations (as the reconciler would re-send them). Needs the API server started (useApiServer).
 */
export function holdOperations() {
  const previous = installedDeps();
  installDeps({ ...previous, send: async () => undefined });
  return {
    async resume(...operationIds: string[]) {
      installDeps(previous);
      const db = await getDb();
      for (const id of operationIds) {
        const [row] = await db.select().from(operation).where(eq(operation.id, id));
        if (!row) throw new Error(`no operation ${id}`);
        await previous.send([operationRequestedEvent(row)]);
      }
    },
  };
}
