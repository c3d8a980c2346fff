/** IEEE 754 half precision, for float16 streams on runtimes without Float16Array. */

const float32 = new Float32Array(1);
const bits32 = new Uint32Array(float32.buffer);

/** The float16 bits nearest to value (round half to even, via float32). */
export function toFloat16Bits(value: number): number {
  float32[0] = value;
  const x = bits32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent32 = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent32 === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  const exponent = exponent32 - 127 + 15;
  if (exponent >= 0x1f) return sign | 0x7c00;
  if (exponent <= 0) {
    if (exponent < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - exponent;
    return sign | roundHalfEven(mantissa, shift);
  }
  return sign | ((exponent << 10) + roundHalfEven(mantissa, 13));
}

function roundHalfEven(value: number, shift: number): number {
  const kept = value >>> shift;
  const rest = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rest > half || (rest === half && (kept & 1) === 1) ? kept + 1 : kept;
}

export function fromFloat16Bits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}
