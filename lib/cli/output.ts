/**
 * What commands print on stdout: JSON (`--json`, exactly the operations API's shapes) or small aligned
 * tables for people.
 */

/** Writes one line to stdout. */
export function printLine(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** Pretty-printed JSON, one document per command. */
export function printJson(value: unknown): void {
  printLine(JSON.stringify(value, null, 2));
}

/**
 * Lines of a table: a header row and the rows, columns left-aligned and separated by two spaces
 * (trailing spaces trimmed).
 */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)));
  const format = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [format(header), ...rows.map(format)];
}

export function printTable(header: readonly string[], rows: readonly (readonly string[])[]): void {
  for (const line of formatTable(header, rows)) {
    printLine(line);
  }
}
