/** IEEE 754 half precision, for float16 streams on runtimes without Float16Array. */

const SMALLEST_SUBNORMAL = 2 ** -24;
const SMALLEST_NORMAL_EXPONENT = -14;
/** Halfway between the largest half (65504) and 65536: ties to even round up to infinity. */
const OVERFLOW_THRESHOLD = 65520;

/** The float16 bits nearest to value: one rounding from float64, half to even (as numpy). */
export function toFloat16Bits(value: number): number {
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const magnitude = Math.abs(value);
  if (Number.isNaN(value)) return 0x7e00;
  if (magnitude >= OVERFLOW_THRESHOLD) return sign | 0x7c00;
  if (magnitude < 2 ** SMALLEST_NORMAL_EXPONENT) return sign | roundHalfEven(magnitude / SMALLEST_SUBNORMAL);
  const exponent = binaryExponent(magnitude);
  // Scaling by powers of two is exact; the carry of a rounded-up mantissa
  // moves into the exponent field, up to infinity, as it should.
  const mantissa = roundHalfEven((magnitude / 2 ** exponent - 1) * 1024);
  return sign | (((exponent + 15) << 10) + mantissa);
}

/** floor(log2(magnitude)), exact (Math.log2 may be off by one next to a power of two). */
function binaryExponent(magnitude: number): number {
  const estimate = Math.floor(Math.log2(magnitude));
  if (2 ** estimate > magnitude) return estimate - 1;
  return 2 ** (estimate + 1) <= magnitude ? estimate + 1 : estimate;
}

function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const rest = value - floor;
  return rest > 0.5 || (rest === 0.5 && floor % 2 === 1) ? floor + 1 : floor;
}

export function fromFloat16Bits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * SMALLEST_SUBNORMAL;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}
