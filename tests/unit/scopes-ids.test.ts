import { describe, expect, it } from "vitest";
import { ID_PREFIXES, isId, newId } from "@/lib/ids";
import { expandScopes, SCOPES, SCOPE_SHORTCUTS, scopeOrShortcutSchema } from "@/lib/scopes";

describe("scopes", () => {
  it("are the product page's 11 plus the two webhook scopes and the two backup scopes", () => {
    expect(SCOPES).toHaveLength(15);
    expect(SCOPES.filter((s) => !s.startsWith("webhooks:") && !s.startsWith("backups:"))).toHaveLength(11);
  });

  it("expand the shortcuts, in canonical order, without duplicates", () => {
    expect(expandScopes(["read"])).toEqual(SCOPES.filter((s) => s.endsWith(":read")));
    expect(expandScopes(["all"])).toEqual([...SCOPES]);
    expect(expandScopes(["write"])).toEqual([...SCOPES]);
    expect(expandScopes(["keys:write", "instance:read", "instance:read"])).toEqual(["instance:read", "keys:write"]);
    expect(expandScopes(["read", "instance:write"])).toContain("instance:write");
    expect(SCOPE_SHORTCUTS.all).toContain("webhooks:write");
    // The backup scopes are in every shortcut: read reads backups, write and all also take and restore them.
    expect(SCOPE_SHORTCUTS.read).toContain("backups:read");
    expect(SCOPE_SHORTCUTS.read).not.toContain("backups:write");
    expect(SCOPE_SHORTCUTS.write).toEqual(expect.arrayContaining(["backups:read", "backups:write"]));
    expect(SCOPE_SHORTCUTS.all).toEqual(expect.arrayContaining(["backups:read", "backups:write"]));
  });

  it("refuse anything else", () => {
    expect(scopeOrShortcutSchema.safeParse("instance:delete").success).toBe(false);
    expect(scopeOrShortcutSchema.safeParse("READ").success).toBe(false);
    expect(scopeOrShortcutSchema.safeParse("read").success).toBe(true);
  });
});

describe("ids", () => {
  it("carry their prefix and sort by creation time", () => {
    const a = newId("inst", 1_700_000_000_000);
    const b = newId("inst", 1_700_000_000_001);
    const c = newId("inst", 1_800_000_000_000);
    expect(a < b && b < c).toBe(true);
    for (const p of ID_PREFIXES) expect(isId(p, newId(p))).toBe(true);
    expect(isId("op", a)).toBe(false);
    expect(isId("inst", "inst_short")).toBe(false);
  });

  it("increase strictly within one millisecond", () => {
    const ids = Array.from({ length: 1000 }, () => newId("op", 1_750_000_000_000));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(1000);
  });
});
