import { and, count, desc, eq, isNull } from "drizzle-orm";
import type { Db, Queryable } from "@/db/client";
import { instance, openclawVersion } from "@/db/schema";
import { ApiError } from "../errors";
import type { VersionResource } from "../schemas/versions";
import { targetVersionOf, type OperationRow } from "./operations";

/**
 * The OpenClaw versions on offer (the `openclaw_version` table): what the API
 * lists, which version an instance may be created with or moved to, and the
 * operator's changes (`npm run admin -- versions add|deprecate`).
 */

export type VersionRow = typeof openclawVersion.$inferSelect;

export function toVersionResource(row: VersionRow): VersionResource {
  return {
    version: row.version,
    image: row.image,
    released_at: row.releasedAt.toISOString(),
    default: row.isDefault,
    deprecated: row.deprecatedAt !== null,
  };
}

/** Every version, newest release first. */
export async function listVersions(db: Queryable): Promise<VersionRow[]> {
  return db.select().from(openclawVersion).orderBy(desc(openclawVersion.releasedAt), desc(openclawVersion.version));
}

export async function findVersion(db: Queryable, version: string): Promise<VersionRow | null> {
  const [row] = await db.select().from(openclawVersion).where(eq(openclawVersion.version, version)).limit(1);
  return row ?? null;
}

/** The version new instances get. There is always one (seeded by the migration; `versions add --default` moves it). */
export async function defaultVersion(db: Queryable): Promise<VersionRow> {
  const [row] = await db.select().from(openclawVersion).where(eq(openclawVersion.isDefault, true)).limit(1);
  if (!row) throw new Error("No default OpenClaw version: the openclaw_version table has lost its default row.");
  return row;
}

/**
 * The version an instance may be created with or moved to: `version` when it
 * is offered and not deprecated, the default when none is named. Throws
 * ApiError unsupported_version otherwise.
 */
export async function offeredVersion(db: Queryable, version: string | undefined): Promise<VersionRow> {
  if (version === undefined) return defaultVersion(db);
  const row = await findVersion(db, version);
  if (!row) {
    throw new ApiError("unsupported_version", `OpenClaw ${version} is not a version this platform offers. GET /api/v1/versions lists them.`, {
      extra: { version },
    });
  }
  if (row.deprecatedAt) {
    throw new ApiError(
      "unsupported_version",
      `OpenClaw ${version} is deprecated: nothing new moves to it. Choose a version GET /api/v1/versions does not mark deprecated.`,
      { extra: { version } },
    );
  }
  return row;
}

/** The image an instance's machine is made with: its version's. */
export async function instanceImage(db: Queryable, instanceId: string): Promise<string> {
  const [row] = await db
    .select({ image: openclawVersion.image })
    .from(instance)
    .innerJoin(openclawVersion, eq(openclawVersion.version, instance.version))
    .where(eq(instance.id, instanceId));
  if (!row) throw new Error(`Instance ${instanceId} does not exist.`);
  return row.image;
}

/** The two versions of an instance.upgrade and their images, from its input; null when the input names none. */
export async function upgradeOf(db: Queryable, op: Pick<OperationRow, "input">) {
  const to = typeof op.input?.target_version === "string" ? await findVersion(db, op.input.target_version) : null;
  const from = typeof op.input?.from_version === "string" ? await findVersion(db, op.input.from_version) : null;
  if (!to || !from) return null;
  return { to: { version: to.version, image: to.image }, from: { version: from.version, image: from.image } };
}

/** An instance.upgrade that succeeded: its instance now runs the target version. Called in finishOperation's transaction. */
export async function commitUpgrade(tx: Queryable, op: OperationRow): Promise<void> {
  const version = targetVersionOf(op);
  if (op.type !== "instance.upgrade" || !version) return;
  await tx.update(instance).set({ version }).where(eq(instance.id, op.instanceId));
}

// Operator functions (npm run admin): no request, no key.

export type VersionChange = { ok: true; row: VersionRow; note: string } | { ok: false; problem: string };

/**
 * Offers a version (its tag and image checked by the caller), or, when it is
 * already offered with the same image, leaves it as it is; with `makeDefault`
 * it becomes the default in the same transaction. A version's image never
 * changes: the same tag with another image is refused, as is a deprecated
 * version as the default.
 */
export async function addVersion(
  db: Db,
  v: { version: string; image: string; releasedAt: Date; makeDefault: boolean },
): Promise<VersionChange> {
  return db.transaction(async (tx) => {
    // Serialises operators changing the default: the default row is the one they all touch.
    await tx.select({ v: openclawVersion.version }).from(openclawVersion).where(eq(openclawVersion.isDefault, true)).for("update");
    const existing = await findVersion(tx, v.version);
    if (existing && existing.image !== v.image) {
      return { ok: false, problem: `${v.version} is already offered with ${existing.image}; a version's image never changes. Add a new version.` };
    }
    if (existing?.deprecatedAt && v.makeDefault) return { ok: false, problem: `${v.version} is deprecated; it cannot be the default.` };
    if (v.makeDefault) await tx.update(openclawVersion).set({ isDefault: false }).where(eq(openclawVersion.isDefault, true));
    if (existing) {
      if (v.makeDefault) await tx.update(openclawVersion).set({ isDefault: true }).where(eq(openclawVersion.version, v.version));
      const row = (await findVersion(tx, v.version))!;
      return { ok: true, row, note: v.makeDefault ? "already offered; now the default" : "already offered; unchanged" };
    }
    const [row] = await tx
      .insert(openclawVersion)
      .values({ version: v.version, image: v.image, releasedAt: v.releasedAt, isDefault: v.makeDefault })
      .returning();
    return { ok: true, row: row!, note: v.makeDefault ? "added, and made the default" : "added" };
  });
}

/** Deprecates a version: instances on it keep running it, but nothing new moves to it. The default cannot be deprecated. */
export async function deprecateVersion(db: Queryable, version: string, now: Date): Promise<VersionChange> {
  const row = await findVersion(db, version);
  if (!row) return { ok: false, problem: `No version ${version}.` };
  if (row.isDefault) return { ok: false, problem: `${version} is the default: make another version the default first (versions add <tag> --default).` };
  if (row.deprecatedAt) return { ok: true, row, note: "already deprecated" };
  const [done] = await db.update(openclawVersion).set({ deprecatedAt: now }).where(eq(openclawVersion.version, version)).returning();
  return { ok: true, row: done!, note: "deprecated" };
}

/** How many live instances run each version. */
export async function versionUsage(db: Queryable): Promise<Map<string, number>> {
  const rows = await db
    .select({ version: instance.version, n: count() })
    .from(instance)
    .where(and(isNull(instance.deletedAt)))
    .groupBy(instance.version);
  return new Map(rows.map((r) => [r.version, Number(r.n)]));
}
