/** Formatting of values for the human-readable output of the commands. */

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** 64 B, 1.5 KiB, 4.0 MiB. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${BYTE_UNITS[unit]}`;
}

/** 0.4s, 12s, 5m, 3h, 2d. */
export function formatAge(seconds: number): string {
  if (seconds < 10) return `${Math.max(0, seconds).toFixed(1)}s`;
  if (seconds < 60) return `${Math.floor(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

/** Integers as they are, other values to 4 significant digits. */
export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value);
  return String(Number(value.toPrecision(4)));
}

/** [128, 128]: the library's form, as in its error messages. */
export { formatShape } from 'tsshmem/internal';

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

const SPARK_LEVELS = '▁▂▃▄▅▆▇█';

/** One block character per value, scaled from 0 to the largest value. */
export function sparkline(values: readonly number[]): string {
  const highest = Math.max(0, ...values);
  return values
    .map((value) => SPARK_LEVELS[highest === 0 ? 0 : Math.round((Math.max(0, value) / highest) * (SPARK_LEVELS.length - 1))])
    .join('');
}
