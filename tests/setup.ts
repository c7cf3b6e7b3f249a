// Runs before every test file, in each worker: an isolated embedded runtime
// (in-memory PGlite, fixed secrets, no provider delay) unless a suite says otherwise.
process.env.DATABASE_URL ??= "memory://";
process.env.API_KEY_PEPPERS ??= "1:test-pepper-0123456789abcdefghijklmnopqrstuvwxyz";
process.env.ENCRYPTION_KEYS ??= "1:" + Buffer.alloc(32, 7).toString("base64");
process.env.LOCAL_PROVIDER_DELAY_MS ??= "0";
process.env.LOG_LEVEL ??= "silent";
// A Postgres server makes this a production process (DESIGN 2: production rules
// as soon as any production service is configured). The API suites' webhook
// receivers listen on loopback and their clients name the host they reached,
// so the server-backed legs opt in, as a deployment behind its own proxy would.
if (/^postgres(ql)?:\/\//.test(process.env.DATABASE_URL ?? "")) {
  process.env.ALLOW_LOOPBACK_WEBHOOKS ??= "1";
  process.env.TRUST_FORWARDED_HOST ??= "1";
}
