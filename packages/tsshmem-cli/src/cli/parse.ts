/** Parsers for command-line option values, with errors commander prints as usage errors. */
import { InvalidArgumentError } from 'commander';
import { MAX_TIMER_MS } from 'tsshmem/internal';

export { MAX_TIMER_MS };

/** A whole positive number, e.g. frame slots. */
export function parsePositiveInteger(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value <= 0) throw new InvalidArgumentError('expected a positive whole number');
  return value;
}

/** Milliseconds between timer ticks: from 1 (shorter ones run every millisecond anyway) to the longest timer. */
export function parseIntervalMs(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 1 || value > MAX_TIMER_MS) throw new InvalidArgumentError(`expected milliseconds from 1 to ${MAX_TIMER_MS}`);
  return value;
}

/** Seconds a timer runs: above 0, up to the longest timer. */
export function parseTimerSeconds(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || value * 1000 > MAX_TIMER_MS) {
    throw new InvalidArgumentError(`expected seconds above 0 and at most ${MAX_TIMER_MS / 1000}`);
  }
  return value;
}

/** Events a second, paced by a timer: one every 1000/rate ms, which must not exceed the longest timer. */
export function parseTimerRate(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || 1000 / value > MAX_TIMER_MS) {
    throw new InvalidArgumentError(`expected a positive number, at least 1000/${MAX_TIMER_MS} (one every ${MAX_TIMER_MS} ms)`);
  }
  return value;
}

/** 128x128: a shape as --shape and --sizes take it, and as the demo and bench print it. */
export function formatShapeArgument(shape: readonly number[]): string {
  return shape.join('x');
}

export function parseShape(text: string): number[] {
  const dimensions = text.split(/[x,]/).map(Number);
  if (dimensions.length === 0 || dimensions.some((dimension) => !Number.isSafeInteger(dimension) || dimension < 1)) {
    throw new InvalidArgumentError('expected positive integers separated by x, e.g. 128x128');
  }
  return dimensions;
}
