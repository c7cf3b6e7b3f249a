import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: { alias: { "@": fileURLToPath(new URL(".", import.meta.url)) } },
  test: {
    include: ["tests/**/*.test.ts"],
    setupFiles: ["tests/setup.ts"],
    globalSetup: ["tests/global-setup.ts"],
    // A safety net against a hang, far from what any test should take: on a shared 2-core machine
    // under load, tests that take 10 s alone (the malformed-input sweep: 300+ requests) took 30.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
