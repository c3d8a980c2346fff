// uPlot settings shared by the line plot and the statistics chart, for the dark page.

export const SERIES_COLORS = {
  line: '#56b6c2',
  mean: '#e5c07b',
  min: '#61afef',
  max: '#e06c75',
};

const AXIS_TEXT = '#9aa4b2';
const GRID = '#2a3038';

export function axis(extra = {}) {
  return { stroke: AXIS_TEXT, grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID, width: 1 }, ...extra };
}

/** A range uPlot can draw even when the data is constant or has no finite value. */
export function drawableRange({ min, max }) {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (max > min) return [min, max];
  return [min - 1, max + 1];
}
