/**
 * A value as the user would write it, for messages that say what they got; cut at 60 characters. Numbers
 * JSON cannot carry (`NaN`, `Infinity`, `-Infinity`) and bigints are written as JavaScript writes them —
 * JSON.stringify would say `null` or throw.
 */
export function formatValue(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  }
  if ((typeof value === 'number' && !Number.isFinite(value)) || typeof value === 'bigint') {
    return typeof value === 'bigint' ? `${value}n` : String(value);
  }
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}
