import { createHash } from "node:crypto";

/**
 * The app name of an instance, the same for every provider (so a half-created
 * instance can be found and removed by name): `moc-` plus the id's suffix, lowercased.
 * Fly app names are one global namespace of at most 63 lowercase letters,
 * digits and dashes. Lowercasing a mixed-case id could make two ids collide,
 * so such ids get a short hash of the original suffix appended.
 */
export function instanceAppName(instanceId: string): string {
  const suffix = instanceId.replace(/^inst_/, "");
  const clean = suffix.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "");
  const exact = clean === suffix;
  const hash = createHash("sha256").update(instanceId).digest("hex").slice(0, 8);
  const base = exact ? clean : `${clean}-${hash}`;
  const name = `moc-${base}`;
  return name.length <= 63 ? name : `moc-${clean.slice(0, 63 - 4 - 9)}-${hash}`;
}
