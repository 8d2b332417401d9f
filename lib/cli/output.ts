/**
 * What commands print on stdout: JSON (`--json`, exactly the operations API's shapes) or small aligned
 * tables for people.
 */

/** Set once the reader of stdout has gone away (`shardline status … | head -1`). */
let stdoutClosed = false;

/** Writes one line to stdout; nothing once the reader has closed the pipe. */
export function printLine(line = ''): void {
  if (!stdoutClosed) {
    process.stdout.write(`${line}\n`);
  }
}

/**
 * For the `shardline` process only: a reader that closes our stdout or stderr early (`| head -1`) is a
 * normal end, not a crash. Node ignores SIGPIPE and reports the write as an asynchronous EPIPE 'error'
 * event, which without a listener is an uncaught exception with a stack trace. With this, the rest of
 * the output is dropped and the command finishes as it would have (closing its registry, same exit code).
 * Other stream errors are left to Node (they are real failures).
 */
export function tolerateClosedOutput(): void {
  const onError = (err: NodeJS.ErrnoException): void => {
    if (err.code !== 'EPIPE') {
      throw err;
    }
    stdoutClosed = true;
  };
  process.stdout.on('error', onError);
  process.stderr.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') {
      throw err;
    }
  });
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
