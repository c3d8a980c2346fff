// Colormaps as 256-entry lookup tables of ImageData pixels (RGBA bytes read
// as one little-endian uint32).

/** Matplotlib's viridis, as the degree-6 polynomial fit by Matt Zucker (CC0). */
const VIRIDIS = [
  [0.2777273272234177, 0.005407344544966578, 0.3340998053353061],
  [0.1050930431085774, 1.404613529898575, 1.384590162594685],
  [-0.3308618287255563, 0.214847559468213, 0.09509516302823659],
  [-4.634230498983486, -5.799100973351585, -19.33244095627987],
  [6.228269936347081, 14.17993336680509, 56.69055260068105],
  [4.776384997670288, -13.74514537774601, -65.35303263337234],
  [-5.435455855934631, 4.645852612178535, 26.3124352495832],
];

function polynomialColor(coefficients, t) {
  return [0, 1, 2].map((channel) => coefficients.reduceRight((sum, term) => sum * t + term[channel], 0));
}

function lookupTable(colorAt) {
  const table = new Uint32Array(256);
  for (let index = 0; index < 256; index++) {
    const [red, green, blue] = colorAt(index / 255).map((channel) => Math.round(Math.min(1, Math.max(0, channel)) * 255));
    table[index] = (255 << 24) | (blue << 16) | (green << 8) | red;
  }
  return table;
}

export const COLORMAPS = {
  viridis: lookupTable((t) => polynomialColor(VIRIDIS, t)),
  gray: lookupTable((t) => [t, t, t]),
};

/** The colour of NaN and infinite elements, RGBA (255, 0, 64, 255): a red neither colormap contains. */
export const NOT_FINITE_PIXEL = 0xff4000ff;
