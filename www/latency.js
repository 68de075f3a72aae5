// SPDX-License-Identifier: MIT
// Latency quantiles from the server's histogram, said no more precisely than
// it knows them (the demo page's admin view; not part of the npm package).
//
// `stats` gives each route `latency_us.buckets`: bucket 0 counts calls of 0 µs,
// bucket b (1 ≤ b < last) calls of 2^(b-1) to 2^b − 1 µs, and the last bucket
// everything from 2^(last-1) µs up. A quantile is known only as "somewhere in
// its bucket": its honest figure is the bucket's upper edge (or the slowest
// call, when that is lower), as a bound: "≤ 33 ms", never "32.768 ms".

/** The smallest value with 2 significant figures that is ≥ x (x > 0). */
export function ceil2(x) {
  const step = 10 ** (Math.floor(Math.log10(x)) - 1);
  // The small tolerance keeps 1.1 from becoming 1.2 through float error.
  return Number((Math.ceil(x / step - 1e-9) * step).toPrecision(2));
}

/** The largest value with 2 significant figures that is ≤ x (x > 0). */
export function floor2(x) {
  const step = 10 ** (Math.floor(Math.log10(x)) - 1);
  return Number((Math.floor(x / step + 1e-9) * step).toPrecision(2));
}

/** A duration in µs as text, rounded up (an upper bound stays one): 7 µs,
 * 33 ms, 1.1 s; with `down`, rounded down (for a lower bound). */
export function fmtUs(us, down = false) {
  const r = down ? floor2 : ceil2;
  if (us < 1000) return `${r(us)} µs`;
  if (us < 1e6) return `${r(us / 1000)} ms`;
  return `${r(us / 1e6)} s`;
}

/**
 * The q-quantile (0 < q ≤ 1) of a histogram as a bound:
 * { le_us, text } with text "≤ 33 ms" (or "< 1 µs" for the zero bucket), or
 * null when there were no calls. `maxUs` (the slowest call, optional) caps
 * the bound: no call was slower.
 */
export function quantile(buckets, q, maxUs) {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total)); // the rank-th fastest call
  const last = buckets.length - 1;
  let seen = 0;
  let b = 0;
  for (; b < last; b++) {
    seen += buckets[b];
    if (seen >= rank) break;
  }
  if (b === 0) return { le_us: 0, text: '< 1 µs' };
  // The last bucket has no upper edge: only the slowest call bounds it.
  let le = b < last ? 2 ** b - 1 : Infinity;
  if (typeof maxUs === 'number' && maxUs >= 0 && maxUs < le) le = maxUs;
  if (le === Infinity) return { le_us: Infinity, text: `≥ ${fmtUs(2 ** (last - 1), true)}` };
  if (le < 1) return { le_us: 0, text: '< 1 µs' };
  return { le_us: le, text: `≤ ${fmtUs(le)}` };
}
