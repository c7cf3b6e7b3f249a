/**
 * JSON with object keys sorted at every depth (arrays keep their order), so
 * equal values give equal text: what the idempotency fingerprint and the
 * config documents' effective hash are taken over, and how the rendered
 * OpenClaw config file is written. Keys are copied as own properties, so a
 * `"__proto__"` key in parsed JSON is kept like any other.
 */
export function canonicalJson(value: unknown, indent?: number): string {
  return JSON.stringify(sortKeys(value), null, indent);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}
