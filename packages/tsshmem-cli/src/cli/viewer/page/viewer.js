// The page: connects to the viewer's WebSocket, builds a panel per stream,
// and asks for each stream's next frame only once it has drawn the last one,
// so the server never sends faster than the browser draws.

import { decodeFrame } from './frame.js';
import { failedPanel, Panel } from './panel.js';

/** After an error for a stream (e.g. a read timed out), ask again after this long. */
const RETRY_MS = 2000;

const connection = document.getElementById('connection');
const panelsElement = document.getElementById('panels');
// Relative to the page, so the socket's path carries the access token as the page's does.
const socket = new WebSocket(new URL('ws', location.href).href.replace(/^http/, 'ws'));
socket.binaryType = 'arraybuffer';

let panels = []; // by stream index; null for a stream that failed to open
const undrawnFrames = new Map(); // stream index -> latest frame not drawn yet
let drawScheduled = false;

socket.addEventListener('open', () => setConnection('live', 'live'));
socket.addEventListener('close', () => setConnection('closed', 'disconnected: the viewer stopped; restart it and reload'));
socket.addEventListener('message', (event) => {
  if (typeof event.data === 'string') handleMessage(JSON.parse(event.data));
  else receiveFrame(decodeFrame(event.data));
});
setInterval(() => panels.forEach((panel) => panel?.tick()), 1000);

function handleMessage(message) {
  if (message.type === 'streams') {
    panels = message.streams.map((description) => ('error' in description ? null : new Panel(description)));
    panelsElement.replaceChildren(...message.streams.map((description, index) => panels[index]?.element ?? failedPanel(description)));
    panels.forEach((panel, index) => panel && requestFrame(index));
  } else if (message.type === 'error') {
    panels[message.stream]?.showError(message.message);
    setTimeout(() => requestFrame(message.stream), RETRY_MS);
  }
}

function receiveFrame(frame) {
  undrawnFrames.set(frame.stream, frame);
  if (drawScheduled) return;
  drawScheduled = true;
  requestAnimationFrame(drawFrames);
}

function drawFrames() {
  drawScheduled = false;
  for (const [index, frame] of undrawnFrames) {
    panels[index]?.show(frame);
    requestFrame(index);
  }
  undrawnFrames.clear();
}

function requestFrame(index) {
  if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: 'next', stream: index }));
}

function setConnection(state, text) {
  connection.dataset.state = state;
  connection.textContent = text;
}
