#!/usr/bin/env node
/* global process, URL */
// The `moc` command. It runs the compiled CLI in dist/, which `npm run build` makes
// (`npm install` in the repository runs it, and `npm pack` ships it). This launcher is
// plain JavaScript in git so that npm can link the command before dist/ is built.
import { existsSync } from "node:fs";

const main = new URL("../dist/main.js", import.meta.url);
if (!existsSync(main)) {
  process.stderr.write("moc is not built yet: run `npm run build:cli` in the repository (or `npm run build` in cli/).\n");
  process.exit(1);
}
await import(main.href);
