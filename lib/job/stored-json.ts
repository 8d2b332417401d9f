import { CorruptedDataError } from '../errors';

/**
 * The JSON value of a registry node (pure). Throws CorruptedDataError(path, 'invalid JSON (…)') when the
 * value is not JSON; what the value must look like is the caller's to check.
 */
export function parseStoredJson(path: string, raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw new CorruptedDataError(
      path,
      `invalid JSON (${err instanceof Error ? err.message : String(err)})`,
      { cause: err },
    );
  }
}
