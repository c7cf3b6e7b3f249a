/** Names kept for the platform itself: no instance may take them. */
export const RESERVED_SUBDOMAINS = new Set([
  "www", "api", "app", "admin", "docs", "mail", "smtp", "imap", "pop", "ftp", "ns1", "ns2", "dns", "mx",
  "status", "blog", "help", "support", "billing", "dashboard", "console", "auth", "login", "signup", "account",
  "accounts", "static", "assets", "cdn", "media", "files", "dev", "staging", "test", "internal", "root",
  "webhooks", "webhook", "security", "abuse", "postmaster", "hostmaster", "openclaw", "myopenclaw",
]);

export const SUBDOMAIN_MIN = 3;
export const SUBDOMAIN_MAX = 63;
/** a-z, 0-9 and single hyphens between them: no '-' at either end, no '--' (punycode and Fly app names use it). */
export const SUBDOMAIN_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

export const SUBDOMAIN_RULES =
  `${SUBDOMAIN_MIN}-${SUBDOMAIN_MAX} characters of a-z, 0-9 and '-', not starting or ending with '-', no '--', unique among live instances, ` +
  `and not a reserved name: ${[...RESERVED_SUBDOMAINS].join(", ")}.`;

/** Why `s` cannot be a subdomain, or null when it can: exactly when it breaks the length, SUBDOMAIN_PATTERN or a reserved name. */
export function subdomainProblem(s: string): string | null {
  if (s.length < SUBDOMAIN_MIN || s.length > SUBDOMAIN_MAX) return `Must be ${SUBDOMAIN_MIN}-${SUBDOMAIN_MAX} characters long.`;
  if (!/^[a-z0-9-]+$/.test(s)) return "Only lowercase letters a-z, digits and '-' are allowed.";
  if (s.startsWith("-") || s.endsWith("-")) return "Must not start or end with '-'.";
  if (s.includes("--")) return "Must not contain '--' (reserved for punycode and Fly app names).";
  if (RESERVED_SUBDOMAINS.has(s)) return `"${s}" is reserved.`;
  return null;
}
