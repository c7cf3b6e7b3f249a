import { z } from "zod";

/**
 * The scopes a key can hold: the 11 of the product page, plus the two that
 * manage webhook endpoints and the two of an instance's backups (DESIGN 3.9).
 * Every other scope fact derives from this tuple.
 */
export const SCOPES = [
  "instance:read",
  "instance:write",
  "provider:read",
  "provider:write",
  "integrations:read",
  "integrations:write",
  "agents:read",
  "agents:write",
  "operations:read",
  "keys:read",
  "keys:write",
  "webhooks:read",
  "webhooks:write",
  "backups:read",
  "backups:write",
] as const;
export type Scope = (typeof SCOPES)[number];

/** Shortcuts accepted wherever scopes are given, and what they stand for. */
export const SCOPE_SHORTCUTS = {
  read: SCOPES.filter((s) => s.endsWith(":read")),
  write: [...SCOPES],
  all: [...SCOPES],
} as const satisfies Record<string, readonly Scope[]>;
export type ScopeShortcut = keyof typeof SCOPE_SHORTCUTS;

export const scopeOrShortcutSchema = z.enum([...SCOPES, ...(Object.keys(SCOPE_SHORTCUTS) as ScopeShortcut[])]);

/** Expands shortcuts and removes duplicates, in the canonical order of SCOPES. */
export function expandScopes(requested: readonly (Scope | ScopeShortcut)[]): Scope[] {
  const set = new Set<Scope>();
  for (const s of requested) {
    if (s in SCOPE_SHORTCUTS) for (const x of SCOPE_SHORTCUTS[s as ScopeShortcut]) set.add(x);
    else set.add(s as Scope);
  }
  return SCOPES.filter((s) => set.has(s));
}

export function hasScope(held: readonly Scope[], needed: Scope): boolean {
  return held.includes(needed);
}

/** The scopes in `wanted` that `held` does not include. */
export function missingScopes(held: readonly Scope[], wanted: readonly Scope[]): Scope[] {
  return wanted.filter((s) => !held.includes(s));
}
