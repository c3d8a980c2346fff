// A panel's counters: the stream's frame count, its write rate, how often
// the page draws it, the writes the viewer skipped and the age of the last write.

import { element } from './dom.js';

/** The write rate is measured over the writes seen in this many seconds. */
const RATE_WINDOW_S = 5;
/** The drawing rate is measured over this many milliseconds. */
const SHOWN_WINDOW_MS = 2000;

const NUMBER = new Intl.NumberFormat('en-US');

export class Counters {
  #writes = []; // { count, writeTime } of the frames received
  #drawTimes = []; // performance.now() of each draw
  #lastWriteTime = null;
  #values = {};

  constructor() {
    const fields = [
      ['frame', 'frame-count'],
      ['rate', 'write-rate'],
      ['shown', 'shown-rate'],
      ['dropped', 'dropped'],
      ['last write', 'age'],
    ];
    this.element = element(
      'div',
      { className: 'counters' },
      fields.map(([label, className]) => {
        this.#values[className] = element('span', { className: `value ${className}`, textContent: '–' });
        return element('span', { className: 'counter' }, [element('span', { className: 'label', textContent: label }), this.#values[className]]);
      }),
    );
  }

  record(frame) {
    this.#writes.push({ count: frame.count, writeTime: frame.writeTime });
    this.#drawTimes.push(performance.now());
    this.#lastWriteTime = frame.writeTime;
    this.#set('frame-count', NUMBER.format(frame.count));
    this.#set('dropped', NUMBER.format(frame.dropped));
    this.refresh();
  }

  /** Updates the rates and the age; also called every second, so they decay when writes stop. */
  refresh() {
    const nowSeconds = Date.now() / 1000;
    this.#writes = this.#writes.filter((write) => write.writeTime >= nowSeconds - RATE_WINDOW_S);
    this.#drawTimes = this.#drawTimes.filter((time) => time >= performance.now() - SHOWN_WINDOW_MS);
    const first = this.#writes[0];
    const last = this.#writes.at(-1);
    const span = last && first ? last.writeTime - first.writeTime : 0;
    this.#set('write-rate', span > 0 ? `${formatRate((last.count - first.count) / span)} Hz` : '–');
    this.#set('shown-rate', `${formatRate(this.#drawTimes.length / (SHOWN_WINDOW_MS / 1000))} fps`);
    if (this.#lastWriteTime !== null) this.#set('age', `${Math.max(0, nowSeconds - this.#lastWriteTime).toFixed(1)} s ago`);
  }

  #set(className, text) {
    this.#values[className].textContent = text;
  }
}

function formatRate(rate) {
  return rate >= 100 ? NUMBER.format(Math.round(rate)) : rate.toFixed(1);
}
