/** How figures read in the tables: three significant digits and a unit. */
import { formatShapeArgument } from '../cli/parse.js';

export function formatHz(hz: number): string {
  if (hz >= 1e6) return `${significant(hz / 1e6)} MHz`;
  if (hz >= 1e3) return `${significant(hz / 1e3)} kHz`;
  return `${significant(hz)} Hz`;
}

export function formatPerSecond(rate: number): string {
  return Math.round(rate).toLocaleString('en-US');
}

export function formatGBps(gbPerSecond: number): string {
  return significant(gbPerSecond);
}

export function formatMicros(us: number): string {
  return `${significant(us)} µs`;
}

export function formatPercent(fraction: number): string {
  return `${significant(fraction * 100)}%`;
}

export function formatTimes(ratio: number): string {
  return `${significant(ratio)}x`;
}

/** A small count per event: two decimals below 10 (0.14, 0.00), else three significant digits. */
export function formatPerEvent(count: number): string {
  return count < 10 ? count.toFixed(2) : significant(count);
}

function significant(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  return value.toPrecision(3);
}

/** "128x128 (64 KiB)" for a float32 payload of that shape. */
export function describePayload(shape: readonly number[]): string {
  return `${formatShapeArgument(shape)} (${formatBytes(payloadBytes(shape))})`;
}


export function payloadBytes(shape: readonly number[]): number {
  return shape.reduce((product, dimension) => product * dimension, Float32Array.BYTES_PER_ELEMENT);
}

function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 20) return `${significant(bytes / 2 ** 20)} MiB`;
  if (bytes >= 2 ** 10) return `${significant(bytes / 2 ** 10)} KiB`;
  return `${bytes} B`;
}
