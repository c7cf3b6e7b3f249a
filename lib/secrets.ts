import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { config, type Secret } from "./config";
import { ensurePrivateDir } from "./data-dir";

interface EmbeddedSecrets {
  apiKeyPeppers: Secret[];
  encryptionKeys: Secret[];
}

const holder = globalThis as unknown as { __mocSecrets?: EmbeddedSecrets };

/**
 * In embedded mode the API-key pepper and the encryption key are generated on
 * first use and kept in DATA_DIR/secrets.json (mode 0600) beside the database
 * they protect. Production sets API_KEY_PEPPERS and ENCRYPTION_KEYS instead.
 */
function embeddedSecrets(): EmbeddedSecrets {
  if (holder.__mocSecrets) return holder.__mocSecrets;
  const cfg = config();
  const fresh = (): EmbeddedSecrets => ({
    apiKeyPeppers: [{ version: 1, value: randomBytes(32).toString("base64url") }],
    encryptionKeys: [{ version: 1, value: randomBytes(32).toString("base64") }],
  });
  if (cfg.database.kind === "pglite" && cfg.database.dataDir === null) {
    holder.__mocSecrets = fresh(); // an in-memory database: secrets live as long as it does
    return holder.__mocSecrets;
  }
  const file = path.resolve(cfg.dataDir, "secrets.json");
  try {
    holder.__mocSecrets = JSON.parse(fs.readFileSync(file, "utf8")) as EmbeddedSecrets;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    const secrets = fresh();
    ensurePrivateDir(path.dirname(file));
    try {
      fs.writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600, flag: "wx" });
      holder.__mocSecrets = secrets;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      holder.__mocSecrets = JSON.parse(fs.readFileSync(file, "utf8")) as EmbeddedSecrets; // lost a race: use the winner's
    }
  }
  return holder.__mocSecrets!;
}

/** API-key peppers, newest first. */
export function apiKeyPeppers(): Secret[] {
  return config().apiKeyPeppers ?? embeddedSecrets().apiKeyPeppers;
}

/** AES-256 keys for secrets at rest, newest first. */
export function encryptionKeys(): Secret[] {
  return config().encryptionKeys ?? embeddedSecrets().encryptionKeys;
}
