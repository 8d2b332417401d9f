// Timeouts scale with TIMING_MULTIPLE (Curator's Timing): a slow CI box sets TIMING_MULTIPLE=3 instead of
// every test growing its own fudge factor. Parsed once; a bad value fails loudly instead of meaning 1 or NaN.
const multiple = Number(process.env.TIMING_MULTIPLE ?? 1);
if (!Number.isFinite(multiple) || multiple <= 0) {
  throw new Error(
    `TIMING_MULTIPLE must be a positive number, got ${JSON.stringify(process.env.TIMING_MULTIPLE)}`,
  );
}

/** `base` milliseconds scaled by TIMING_MULTIPLE (default 1). */
export function ms(base: number): number {
  return Math.round(base * multiple);
}
