/* global process, console, URL */
/**
 * Compiles the CLI (src/*.ts -> dist/*.js) with the TypeScript compiler.
 *
 *   node scripts/build.mjs                 # npm run build, and before npm pack
 *   node scripts/build.mjs --if-available  # the repository's `prepare`: after `npm install` in a
 *                                          # clone, so `npx moc` works; where dev dependencies are
 *                                          # left out (npm ci --omit=dev) there is no compiler, and
 *                                          # the server's install must not fail for the CLI's sake
 */
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
let tsc;
try {
  tsc = require.resolve("typescript/bin/tsc");
} catch {
  if (process.argv.includes("--if-available")) {
    console.log("moc: TypeScript is not installed (dev dependencies left out), so the CLI was not built.");
    process.exit(0);
  }
  console.error("moc: the build needs TypeScript: npm install (with dev dependencies) first.");
  process.exit(1);
}
execFileSync(process.execPath, [tsc, "-p", fileURLToPath(new URL("../tsconfig.json", import.meta.url))], { stdio: "inherit" });
