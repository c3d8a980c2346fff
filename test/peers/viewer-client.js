// A client of `tsshmem view` for the token tests (80-), run as another user:
// what it gets over HTTP and over the WebSocket, with and without the token.
// Prints one JSON line.
//
// Usage: node viewer-client.js '{"origin": "http://127.0.0.1:PORT", "token": "..."}'
import WebSocket from 'ws';

const { origin, token } = JSON.parse(process.argv[2]);
const wrongToken = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;

/** The status and whether the body is the page, for a GET of path. */
async function get(path) {
  const response = await fetch(new URL(path, origin), { redirect: 'manual' });
  const body = await response.text();
  return { status: response.status, page: body.includes('<title>tsshmem view</title>') };
}

/** The handshake's status and the messages received (the stream list, then one frame asked for). */
function socket(path) {
  return new Promise((resolve) => {
    const result = { status: null, opened: false, messages: 0, frames: 0 };
    const webSocket = new WebSocket(new URL(path, origin.replace(/^http/, 'ws')), { origin });
    const finish = () => {
      webSocket.terminate();
      resolve(result);
    };
    webSocket.on('unexpected-response', (_request, response) => {
      result.status = response.statusCode;
      finish();
    });
    webSocket.on('error', finish);
    webSocket.on('open', () => {
      result.status = 101;
      result.opened = true;
    });
    webSocket.on('message', (_data, isBinary) => {
      result.messages++;
      if (!isBinary) webSocket.send(JSON.stringify({ type: 'next', stream: 0 }));
      else {
        result.frames++;
        finish();
      }
    });
  });
}

const results = {
  httpRoot: await get('/'),
  httpAsset: await get('/viewer.js'),
  httpWrongToken: await get(`/${wrongToken}/`),
  httpWithToken: await get(`/${token}/`),
  httpAssetWithToken: await get(`/${token}/viewer.js`),
  socketWithoutToken: await socket('/ws'),
  socketWrongToken: await socket(`/${wrongToken}/ws`),
  socketWithToken: await socket(`/${token}/ws`),
};
process.stdout.write(JSON.stringify({ uid: process.getuid(), results }) + '\n');
