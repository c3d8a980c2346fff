// The value range a panel maps to colours (image) or to the y axis (line
// plot): "auto" follows each frame's finite min and max; typing a min or max
// switches auto off and pins the range.

import { element } from './dom.js';

export class RangeControl {
  #auto;
  #min;
  #max;

  /** onChange runs when the user changes the range, to redraw the last frame. */
  constructor(onChange) {
    this.#auto = element('input', { type: 'checkbox', checked: true, className: 'auto' });
    this.#min = element('input', { type: 'number', step: 'any', className: 'min', title: 'lowest value shown' });
    this.#max = element('input', { type: 'number', step: 'any', className: 'max', title: 'highest value shown' });
    this.#auto.addEventListener('change', onChange);
    for (const input of [this.#min, this.#max]) {
      input.addEventListener('input', () => {
        this.#auto.checked = false;
        onChange();
      });
    }
    this.element = element('span', { className: 'range' }, [
      element('label', {}, [this.#auto, ' auto']),
      element('label', {}, ['min ', this.#min]),
      element('label', {}, ['max ', this.#max]),
    ]);
  }

  /** The range to show, given the data's finite range; with auto on, also shows it in the inputs. */
  resolve(dataMin, dataMax) {
    if (this.#auto.checked) {
      this.#min.value = formatBound(dataMin);
      this.#max.value = formatBound(dataMax);
      return { min: dataMin, max: dataMax };
    }
    return { min: parseBound(this.#min.value, dataMin), max: parseBound(this.#max.value, dataMax) };
  }
}

function formatBound(value) {
  return Number.isFinite(value) ? String(Number(value.toPrecision(5))) : '';
}

function parseBound(text, fallback) {
  const value = text.trim() === '' ? NaN : Number(text);
  return Number.isFinite(value) ? value : fallback;
}
