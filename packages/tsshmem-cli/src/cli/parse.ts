/** Parsers for command-line option values, with errors commander prints as usage errors. */
import { InvalidArgumentError } from 'commander';

export function parsePositive(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new InvalidArgumentError('expected a positive number');
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
