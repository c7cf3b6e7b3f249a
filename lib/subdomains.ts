/** Names kept for the platform itself: no instance may take them. */
export const RESERVED_SUBDOMAINS = new Set([
  "www", "api", "app", "admin", "docs", "mail", "smtp", "imap", "pop", "ftp", "ns1", "ns2", "dns", "mx",
  "status", "blog", "help", "support", "billing", "dashboard", "console", "auth", "login", "signup", "account",
  "accounts", "static", "assets", "cdn", "media", "files", "dev", "staging", "test", "internal", "root",
  "webhooks", "webhook", "security", "abuse", "postmaster", "hostmaster", "openclaw", "myopenclaw",
]);

export const SUBDOMAIN_RULES =
  "3-63 characters of a-z, 0-9 and '-', not starting or ending with '-', not a reserved name (www, api, app, admin, docs, mail, ...), unique among live instances.";

/** Why `s` cannot be a subdomain, or null when it can. */
export function subdomainProblem(s: string): string | null {
  if (s.length < 3 || s.length > 63) return "Must be 3-63 characters long.";
  if (!/^[a-z0-9-]+$/.test(s)) return "Only lowercase letters a-z, digits and '-' are allowed.";
  if (s.startsWith("-") || s.endsWith("-")) return "Must not start or end with '-'.";
  if (s.includes("--")) return "Must not contain '--' (reserved for punycode and Fly app names).";
  if (RESERVED_SUBDOMAINS.has(s)) return `"${s}" is reserved.`;
  return null;
}
