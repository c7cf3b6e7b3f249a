import fs from "node:fs";
import path from "node:path";

/**
 * The Scalar API reference's browser bundle, served by this deployment itself
 * (at /docs/scalar.js) rather than from a CDN: no third party sees who reads
 * the docs, and the docs work where only this host is reachable.
 * It comes from the `@scalar/api-reference` package (its standalone UMD build).
 */
// Whole literal paths, so that the build's file tracing ships these two files and no more of the package.
const PACKAGE_JSON = path.join(process.cwd(), "node_modules/@scalar/api-reference/package.json");
const BUNDLE = path.join(process.cwd(), "node_modules/@scalar/api-reference/dist/browser/standalone.js");

export interface ScalarBundle {
  version: string;
  /** The bundle's bytes, read once per process. */
  read(): Buffer;
}

let cached: Buffer | undefined;

export function scalarBundle(): ScalarBundle | null {
  let version: string;
  try {
    version = (JSON.parse(fs.readFileSync(PACKAGE_JSON, "utf8")) as { version: string }).version;
  } catch {
    return null;
  }
  return {
    version,
    read: () => (cached ??= fs.readFileSync(BUNDLE)),
  };
}
