/** Milliseconds as a short figure for the timeline: 850 ms, 3.2 s, 4m 10s. */
export function ms(value: number): string {
  if (value < 1000) return `${Math.round(value)} ms`;
  if (value < 60_000) return `${(value / 1000).toFixed(1)} s`;
  const s = Math.round(value / 1000);
  return `${Math.floor(s / 60)}m ${s % 60}s`;
}
