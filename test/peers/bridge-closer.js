// Runs one bridge side (tsshmem-nats Publisher or Subscriber) and closes it
// when told, for the close-during-reconnect tests. Prints JSON lines:
// {"event":"ready"} once started, {"event":"closing", connected} right
// before close(), {"event":"closed"} after it. Then it lets the event loop
// run dry: an error thrown after close() ends it with a stack on stderr
// and a non-zero exit code; a handle left open keeps it running.
// Commands on stdin, one a line:
//   close                   close() now
//   close-when-disconnected close() once status().connected is false
//   close-when-reconnected  close() once status() shows a reconnection
//   close-on-server-end     close() from the 'end' event of the client's socket
//                           (it has seen the server's FIN and not yet closed);
//                           answers {"event":"armed"}
// Usage: node bridge-closer.js '{"role": "publisher"|"subscriber", "lossless", "server", "stream", "subject"}'
// A publisher creates its source stream `stream` and writes a frame every 5 ms until it closes;
// a subscriber given a subject (of a running publisher) is ready once it wrote a frame,
// one without (lossless) waits for its publisher.
import { subscribe } from 'node:diagnostics_channel';
import { createInterface } from 'node:readline';

import { create } from '../../packages/tsshmem/dist/index.js';
import { Publisher, Subscriber } from '../../packages/tsshmem-nats/dist/index.js';

const { role, lossless = false, server, stream, subject } = JSON.parse(process.argv[2]);

function report(record) {
  process.stdout.write(`${JSON.stringify(record)}\n`);
}

// The sockets the client opens. Listeners are added once it is connected:
// it removes every listener of its socket while connecting.
const sockets = new Set();
subscribe('net.client.socket', ({ socket }) => sockets.add(socket));

let source = null;
let writer = null;
let bridge;
if (role === 'publisher') {
  source = create(stream, { shape: [64], dtype: 'float32' });
  source.write(new Float32Array(64).fill(1));
  bridge = await Publisher.start({ server, source, subject, lossless, retentionFrames: 10 });
  let value = 1;
  writer = setInterval(() => source.write(new Float32Array(64).fill(++value)), 5);
} else {
  bridge = await Subscriber.start({ server, stream, subject, lossless, durable: lossless ? 'closer' : undefined, publisherCheckInterval: 100 });
}
if (role === 'subscriber' && subject !== undefined) await until((status) => status.frames > 0);
report({ event: 'ready', subject: bridge.subject });

/** Resolves once predicate(bridge.status()) holds, looking at every turn of the event loop. */
function until(predicate) {
  return new Promise((resolve) => {
    const look = () => (predicate(bridge.status()) ? resolve() : setImmediate(look));
    look();
  });
}

let closing = null;

function closeBridge() {
  closing ??= closeNow();
  return closing;
}

async function closeNow() {
  report({ event: 'closing', connected: bridge.status().connected });
  clearInterval(writer);
  await bridge.close();
  source?.close();
  report({ event: 'closed' });
}

const commands = createInterface({ input: process.stdin });
commands.once('line', async (command) => {
  commands.close();
  if (command === 'close-on-server-end') {
    const open = [...sockets].filter((socket) => !socket.destroyed);
    for (const socket of open) {
      socket.once('end', () => void closeBridge()); // after the client's own 'end' listener
      socket.once('close', () => void closeBridge()); // the server reset the connection instead
    }
    return report({ event: 'armed', sockets: open.length });
  }
  if (command === 'close-when-disconnected') await until((status) => !status.connected);
  if (command === 'close-when-reconnected') await until((status) => status.connected && status.reconnects >= 1);
  await closeBridge();
});
