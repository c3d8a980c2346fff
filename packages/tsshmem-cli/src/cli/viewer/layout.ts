/** How the page shows a stream of a given shape: an image of the last two dimensions, or a line plot. */

export interface StreamLayout {
  readonly kind: 'image' | 'line';
  /** Rows of the image; 1 for a line plot. */
  readonly rows: number;
  /** Columns of the image, or points of the line plot. */
  readonly columns: number;
  /** For more than 2 dimensions, which slice is shown; null otherwise. */
  readonly note: string | null;
}

export function layoutFor(shape: readonly number[]): StreamLayout {
  const columns = shape[shape.length - 1] ?? 1;
  if (shape.length === 1) return { kind: 'line', rows: 1, columns, note: null };
  const rows = shape[shape.length - 2] ?? 1;
  if (shape.length === 2) return { kind: 'image', rows, columns, note: null };
  const index = [...shape.slice(0, -2).map(() => '0'), ':', ':'].join(', ');
  return { kind: 'image', rows, columns, note: `showing the last two dimensions of the first slice, [${index}]` };
}

/** Elements shown: the first rows x columns of the frame, which in C order is the first slice. */
export function shownElements(layout: StreamLayout): number {
  return layout.rows * layout.columns;
}
