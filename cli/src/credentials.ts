import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CliError, EXIT } from "./errors.js";

/** Where the API is when nothing says otherwise: `npm run dev` on this machine. */
export const DEFAULT_BASE_URL = "http://localhost:3000";

export interface Credentials {
  /** The deployment's origin, e.g. `http://localhost:3000` (no path, no trailing slash). */
  baseUrl: string;
  apiKey: string | undefined;
  /** Where each came from, for `moc login`'s and the errors' messages. */
  source: { baseUrl: "env" | "file" | "default" | "login"; apiKey: "env" | "file" | "none" | "login" };
}

interface StoredCredentials {
  base_url: string;
  api_key: string;
}

/**
 * The file `moc login` writes: `$XDG_CONFIG_HOME/moc/credentials.json`, else
 * `~/.config/moc/credentials.json` (the XDG Base Directory specification's default).
 */
export function credentialsFile(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), ".config");
  return path.join(base, "moc", "credentials.json");
}

/**
 * A base URL as users write it, reduced to the origin the client prefixes to
 * `/api/v1/...`: `http://localhost:3000/`, `.../api/v1` and `.../api/v1/` all
 * give `http://localhost:3000`. Throws a usage error for anything but http(s).
 */
export function normalizeBaseUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new CliError(EXIT.usage, `Not a URL: ${JSON.stringify(value)} (expected the deployment's origin, e.g. ${DEFAULT_BASE_URL})`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new CliError(EXIT.usage, `The base URL must be http:// or https://, not ${url.protocol}`);
  }
  const pathname = url.pathname.replace(/\/+$/, "").replace(/\/api\/v1$/, "");
  return `${url.origin}${pathname}`;
}

function readStored(file: string): StoredCredentials | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new CliError(EXIT.failed, `Cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text) as Partial<StoredCredentials>;
    if (typeof parsed.base_url === "string" && typeof parsed.api_key === "string") return parsed as StoredCredentials;
  } catch {
    // reported below
  }
  throw new CliError(EXIT.failed, `${file} is not a credentials file written by \`moc login\`: run \`moc login\` again, or delete it.`);
}

/** MOC_API_KEY and MOC_BASE_URL win over the file `moc login` wrote; the base URL defaults to DEFAULT_BASE_URL. */
export function loadCredentials(env: NodeJS.ProcessEnv = process.env): Credentials {
  const envKey = env.MOC_API_KEY?.trim() || undefined;
  const envBase = env.MOC_BASE_URL?.trim() || undefined;
  const stored = envKey && envBase ? undefined : readStored(credentialsFile(env));
  return {
    baseUrl: normalizeBaseUrl(envBase ?? stored?.base_url ?? DEFAULT_BASE_URL),
    apiKey: envKey ?? stored?.api_key,
    source: {
      baseUrl: envBase ? "env" : stored ? "file" : "default",
      apiKey: envKey ? "env" : stored ? "file" : "none",
    },
  };
}

/**
 * Stores a key for later commands, readable by the user alone: the folder is
 * made 0700 and the file 0600 before the key is written into it (written to a
 * temporary file in the same folder, then renamed over the old one).
 */
export function storeCredentials(baseUrl: string, apiKey: string, env: NodeJS.ProcessEnv = process.env): string {
  const file = credentialsFile(env);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  const body: StoredCredentials = { base_url: baseUrl, api_key: apiKey };
  const fd = fs.openSync(tmp, "w", 0o600);
  try {
    fs.fchmodSync(fd, 0o600); // the umask cannot widen it, and an existing file gets narrowed
    fs.writeSync(fd, JSON.stringify(body, null, 2) + "\n");
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  return file;
}

/** Deletes the stored key; false when there was none. */
export function removeCredentials(env: NodeJS.ProcessEnv = process.env): boolean {
  try {
    fs.unlinkSync(credentialsFile(env));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}
