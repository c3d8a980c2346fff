/** The progress display: one updating line on stderr when it is a terminal, plain lines otherwise. */

const CLEAR_LINE = '\r\x1b[2K';

export class Progress {
  readonly #terminal = process.stderr.isTTY === true;
  #showing = false;

  /** Shows what runs now, then yields to the event loop so that a pending Ctrl-C is handled between cases. */
  async step(text: string): Promise<void> {
    if (this.#terminal) {
      const width = Math.max(20, (process.stderr.columns || 80) - 1);
      process.stderr.write(CLEAR_LINE + text.slice(0, width));
      this.#showing = true;
    } else {
      process.stderr.write(`${text}\n`);
    }
    await new Promise((resolve) => setImmediate(resolve));
  }

  /** Removes the updating line before the report is printed. */
  finish(): void {
    if (this.#showing) process.stderr.write(CLEAR_LINE);
    this.#showing = false;
  }
}
