// Order statistics over samples; nearest-rank, so every figure is a measured value.

export function quantile(xs: readonly number[], q: number): number | null {
  if (xs.length === 0) return null;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export const median = (xs: readonly number[]) => quantile(xs, 0.5);

export const round = (x: number | null, digits = 1): number | null => (x === null ? null : Number(x.toFixed(digits)));
