// The time series of each frame's mean, min and max (over the whole frame,
// computed by the server), for the last CAPACITY frames shown, against
// seconds since the panel's first frame was written.

import { axis, SERIES_COLORS } from './chart-style.js';
import { element } from './dom.js';

const HEIGHT = 150;
const CAPACITY = 600;

export class StatsChart {
  #columns = [[], [], [], []]; // seconds, mean, min, max
  #firstWriteTime = null;
  #plot;

  constructor(width) {
    this.element = element('div', { className: 'stats-chart' });
    const series = ['mean', 'min', 'max'].map((label) => ({ label, stroke: SERIES_COLORS[label], width: 1.5 }));
    const options = {
      width,
      height: HEIGHT,
      cursor: { show: false },
      legend: { live: false },
      scales: { x: { time: false } },
      axes: [axis({ values: (plot, ticks) => ticks.map((seconds) => `${seconds} s`) }), axis({ size: 60 })],
      series: [{}, ...series],
    };
    this.#plot = new uPlot(options, this.#columns, this.element);
  }

  add(frame) {
    this.#firstWriteTime ??= frame.writeTime;
    const values = [frame.writeTime - this.#firstWriteTime, frame.mean, frame.min, frame.max];
    this.#columns.forEach((column, index) => {
      column.push(Number.isFinite(values[index]) ? values[index] : null);
      if (column.length > CAPACITY) column.shift();
    });
    this.#plot.setData(this.#columns);
  }

  resize(width) {
    this.#plot.setSize({ width, height: HEIGHT });
  }
}
