/**
 * What commands print: the API's JSON (--json, for jq) or a table for people.
 * Results go to stdout; progress, notes and errors go to stderr, so a pipe
 * only ever sees the answer.
 */

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}

export function printLine(text = ""): void {
  process.stdout.write(text + "\n");
}

/** A note for the person at the terminal (never part of the answer). */
export function note(text: string): void {
  process.stderr.write(text + "\n");
}

export type Column<T> = [header: string, cell: (row: T) => unknown];

/** Rows as aligned columns under upper-case headers, or `empty` when there are none. */
export function printTable<T>(rows: readonly T[], columns: Column<T>[], empty: string): void {
  if (rows.length === 0) {
    printLine(empty);
    return;
  }
  const cells = [columns.map(([h]) => h.toUpperCase()), ...rows.map((r) => columns.map(([, cell]) => show(cell(r))))];
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => line[i]!.length)));
  for (const line of cells) printLine(line.map((c, i) => (i === line.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd());
}

/** One resource as `field: value` lines; nested values are written as JSON. */
export function printFields(pairs: [label: string, value: unknown][]): void {
  const width = Math.max(...pairs.map(([l]) => l.length)) + 1;
  for (const [label, value] of pairs) printLine(`${(label + ":").padEnd(width)} ${show(value)}`);
}

/** A cell: "-" for nothing, ISO times without milliseconds, JSON for objects. */
export function show(value: unknown): string {
  if (value === null || value === undefined || value === "") return "-";
  if (typeof value === "string") return /^\d{4}-\d\d-\d\dT[\d:.]+Z$/.test(value) ? value.replace(/\.\d+Z$/, "Z") : value;
  if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value.join(",");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}
