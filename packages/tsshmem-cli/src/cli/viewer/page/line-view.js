// A 1-D frame as a line plot of value against index (uPlot).

import { axis, drawableRange, SERIES_COLORS } from './chart-style.js';
import { element } from './dom.js';

const HEIGHT = 260;

export class LineView {
  #indices;
  #plot;
  #range = [0, 1];

  constructor(columns, width) {
    this.element = element('div', { className: 'line-plot' });
    this.#indices = Float64Array.from({ length: columns }, (_, index) => index);
    const options = {
      width,
      height: HEIGHT,
      legend: { show: false },
      cursor: { show: false },
      scales: { x: { time: false }, y: { range: () => this.#range } },
      axes: [axis(), axis({ size: 60 })],
      series: [{}, { stroke: SERIES_COLORS.line, width: 1.5 }],
    };
    this.#plot = new uPlot(options, [this.#indices, new Float64Array(columns)], this.element);
  }

  draw(values, range) {
    this.#range = drawableRange(range);
    this.#plot.setData([this.#indices, values]);
  }

  resize(width) {
    this.#plot.setSize({ width, height: HEIGHT });
  }
}
