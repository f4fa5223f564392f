/** How long ago `since` (an RFC 3339 time) was, as the list shows it: `45s`, `12m`, `3h 5m`, `2d 4h`. */
export function formatUptime(since: string | undefined, nowMs: number): string {
  if (since === undefined) return '';
  const start = Date.parse(since);
  if (Number.isNaN(start)) return '';
  const s = Math.max(0, Math.floor((nowMs - start) / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** A byte count in binary units: `512 B`, `1.5 KiB`, `128 MiB`. */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 || v >= 10 ? Math.round(v) : v.toFixed(1)} ${units[i] ?? ''}`;
}

/** A CPU share of one core: `0.4%`, `37%`, `200%` (two cores busy). */
export function formatPercent(p: number | undefined): string {
  if (p === undefined) return '';
  return p < 10 ? `${p.toFixed(1)}%` : `${Math.round(p)}%`;
}
