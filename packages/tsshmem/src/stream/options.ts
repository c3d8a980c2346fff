/** Validation of option values shared by the stream's methods. */
import { describeValue, invalidArgType, invalidArgValue } from '../errors.js';

/** A duration in milliseconds: a number >= 0 (or > 0), Infinity allowed; undefined gives the default. */
export function checkDuration(value: unknown, option: string, fallback: number, { positive = false } = {}): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw invalidArgType(`option ${option} must be a number of milliseconds, received ${describeValue(value)}`);
  }
  if (value < 0 || (positive && value === 0)) {
    throw invalidArgValue(`option ${option} must be ${positive ? 'greater than 0' : '0 or more'} milliseconds, received ${value}`);
  }
  return value;
}

/** A boolean option: true or false; undefined gives the default. */
export function checkBoolean(value: unknown, option: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalidArgType(`option ${option} must be true or false, received ${describeValue(value)}`);
  return value;
}

/**
 * The options argument of call (e.g. 'open(name, options)'): an object, or
 * undefined for none (given as {}) unless required.
 */
export function checkOptions<T extends object>(value: T | undefined, call: string, { required = false } = {}): T {
  if (value === undefined && !required) return {} as T;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidArgType(`${call}: options must be an object${required ? '' : ' or omitted'}, received ${describeValue(value)}`);
  }
  return value;
}

export function checkSignal(value: unknown): AbortSignal | undefined {
  if (value === undefined || value instanceof AbortSignal) return value;
  throw invalidArgType(`option signal must be an AbortSignal, received ${describeValue(value)}`);
}
