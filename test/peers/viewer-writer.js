// Writes changing 2-D float32 frames to an existing stream every intervalMs
// until killed: a pattern that moves with the frame number, so any two
// frames differ (and so does their picture after autoscaling).
// Arguments (JSON): { name, intervalMs }.
import { open } from '../../packages/tsshmem/dist/index.js';

const { name, intervalMs } = JSON.parse(process.argv[2]);
const stream = open(name);
const [rows, columns] = stream.shape;
const frame = new Float32Array(rows * columns);
let frameNumber = 0;

setInterval(() => {
  frameNumber++;
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < columns; column++) {
      frame[row * columns + column] = Math.sin(column / 5 + frameNumber / 7) * Math.cos(row / 9 - frameNumber / 11);
    }
  }
  stream.write(frame);
}, intervalMs);
