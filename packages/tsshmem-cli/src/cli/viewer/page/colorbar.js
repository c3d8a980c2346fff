// The colormap as a horizontal bar, labelled with the range it spans.

import { COLORMAPS } from './colormap.js';
import { element } from './dom.js';

export class Colorbar {
  #context;
  #image;
  #low;
  #high;

  constructor() {
    const bar = element('canvas', { className: 'colorbar-gradient', width: 256, height: 1 });
    this.#context = bar.getContext('2d');
    this.#image = this.#context.createImageData(256, 1);
    this.#low = element('span');
    this.#high = element('span');
    this.element = element('div', { className: 'colorbar' }, [this.#low, bar, this.#high]);
  }

  draw({ min, max }, colormapName) {
    new Uint32Array(this.#image.data.buffer).set(COLORMAPS[colormapName]);
    this.#context.putImageData(this.#image, 0, 0);
    this.#low.textContent = formatValue(min);
    this.#high.textContent = formatValue(max);
  }
}

export function formatValue(value) {
  return Number.isFinite(value) ? String(Number(value.toPrecision(4))) : '–';
}
