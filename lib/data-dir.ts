import fs from "node:fs";
import path from "node:path";

/**
 * DATA_DIR holds the embedded database, the generated pepper and encryption
 * key, and the simulated machines: nothing in it is for other users of the
 * machine. Everything that writes there creates the folder through here.
 */

/** Creates `dir` (and missing parents) mode 0700, and takes group and other access off an existing one this process owns. */
export function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.statSync(dir);
  if ((st.mode & 0o077) !== 0 && st.uid === process.getuid?.()) fs.chmodSync(dir, st.mode & 0o700);
}

/**
 * Takes group and other access off everything under `dir` (files 0600, folders
 * 0700, or less). PGlite's file system layer creates its files mode 0666
 * whatever the umask; DATA_DIR being 0700 already keeps others out, and this
 * keeps the files themselves private too (e.g. if the folder is copied).
 */
export function makeTreePrivate(dir: string): void {
  const uid = process.getuid?.();
  const visit = (p: string) => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      return; // removed meanwhile (a temporary file)
    }
    if (st.isSymbolicLink() || st.uid !== uid) return;
    if ((st.mode & 0o077) !== 0) {
      try {
        fs.chmodSync(p, st.mode & 0o700);
      } catch {
        // removed meanwhile
      }
    }
    if (st.isDirectory()) for (const name of fs.readdirSync(p)) visit(path.join(p, name));
  };
  visit(dir);
}
