// One stream's panel: title, counters, range (and colormap) controls, the
// image or line plot of the latest frame, and the statistics chart.

import { Colorbar } from './colorbar.js';
import { COLORMAPS } from './colormap.js';
import { Counters } from './counters.js';
import { element } from './dom.js';
import { ImageView } from './image-view.js';
import { LineView } from './line-view.js';
import { RangeControl } from './range-control.js';
import { StatsChart } from './stats-chart.js';

/** Chart width until the panel is laid out; a ResizeObserver then fits the charts to it. */
const INITIAL_WIDTH = 400;

export class Panel {
  #kind;
  #counters = new Counters();
  #range = new RangeControl(() => this.#drawLatest());
  #colormap = null;
  #colorbar = null;
  #view;
  #stats;
  #state;
  #latest = null;

  /** description: a stream of the server's `streams` message (protocol.ts). */
  constructor(description) {
    this.#kind = description.kind;
    this.#state = element('p', { className: 'state', textContent: 'waiting for the first write…' });
    this.#view = description.kind === 'image' ? new ImageView(description.rows, description.columns) : new LineView(description.columns, INITIAL_WIDTH);
    this.#stats = new StatsChart(INITIAL_WIDTH);
    const controls = element('div', { className: 'controls' }, [this.#range.element]);
    if (description.kind === 'image') {
      this.#colormap = element('select', { className: 'colormap', title: 'colormap' }, Object.keys(COLORMAPS).map((name) => element('option', { value: name, textContent: name })));
      this.#colormap.addEventListener('change', () => this.#drawLatest());
      controls.prepend(element('label', {}, ['colormap ', this.#colormap]));
      this.#colorbar = new Colorbar();
    }
    this.element = element('section', { className: 'panel' }, [
      titleOf(description),
      ...(description.note ? [element('p', { className: 'note', textContent: description.note })] : []),
      this.#counters.element,
      controls,
      this.#state,
      element('div', { className: 'view' }, [this.#view.element, ...(this.#colorbar ? [this.#colorbar.element] : [])]),
      element('h3', { textContent: 'frame mean, min and max' }),
      this.#stats.element,
    ]);
    this.element.dataset.stream = description.name;
    this.element.dataset.kind = description.kind;
    new ResizeObserver(([entry]) => this.#resize(entry.contentRect.width)).observe(this.element);
  }

  show(frame) {
    this.#latest = frame;
    this.#state.hidden = true;
    this.#counters.record(frame);
    this.#stats.add(frame);
    this.#drawLatest();
  }

  showError(message) {
    this.#state.hidden = false;
    this.#state.className = 'state error';
    this.#state.textContent = message;
  }

  /** Called every second: rates and ages move on even while no frame arrives. */
  tick() {
    this.#counters.refresh();
  }

  #drawLatest() {
    if (this.#latest === null) return;
    const values = this.#latest.values;
    const range = this.#range.resolve(...finiteRange(values));
    if (this.#kind === 'image') {
      this.#view.draw(values, range, this.#colormap.value);
      this.#colorbar.draw(range, this.#colormap.value);
    } else {
      this.#view.draw(values, range);
    }
  }

  #resize(width) {
    this.#stats.resize(width);
    if (this.#kind === 'line') this.#view.resize(width);
  }
}

/** The panel of a stream the server could not open. */
export function failedPanel(description) {
  const panel = element('section', { className: 'panel' }, [
    element('header', { className: 'title' }, [element('h2', { textContent: description.name })]),
    element('p', { className: 'state error', textContent: description.error }),
  ]);
  panel.dataset.stream = description.name;
  return panel;
}

function titleOf(description) {
  const shape = description.shape.join('×');
  return element('header', { className: 'title' }, [
    element('h2', { textContent: description.name }),
    element('span', { className: 'meta', textContent: `${description.dtype} · ${shape}` }),
  ]);
}

/** [min, max] of the finite values; NaN, NaN when there are none. */
function finiteRange(values) {
  let min = Infinity;
  let max = -Infinity;
  for (let index = 0; index < values.length; index++) {
    const value = values[index];
    if (value < min && Number.isFinite(value)) min = value;
    if (value > max && Number.isFinite(value)) max = value;
  }
  return min <= max ? [min, max] : [NaN, NaN];
}
