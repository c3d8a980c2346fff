// A 2-D frame as an image: one canvas pixel per element, coloured through a
// colormap over a value range. CSS scales the canvas to the panel.

import { COLORMAPS, NOT_FINITE_PIXEL } from './colormap.js';
import { element } from './dom.js';

export class ImageView {
  #context;
  #image;
  #pixels;

  constructor(rows, columns) {
    this.element = element('canvas', { className: 'image', width: columns, height: rows });
    this.#context = this.element.getContext('2d');
    this.#image = this.#context.createImageData(columns, rows);
    this.#pixels = new Uint32Array(this.#image.data.buffer);
  }

  draw(values, { min, max }, colormapName) {
    const table = COLORMAPS[colormapName];
    const scale = max > min ? 255 / (max - min) : 0;
    const pixels = this.#pixels;
    for (let index = 0; index < pixels.length; index++) {
      const value = values[index];
      if (!Number.isFinite(value)) {
        pixels[index] = NOT_FINITE_PIXEL;
        continue;
      }
      const level = Math.round((value - min) * scale);
      pixels[index] = table[level < 0 ? 0 : level > 255 ? 255 : level];
    }
    this.#context.putImageData(this.#image, 0, 0);
  }
}
