// A tsshmem process driven over stdin: one JSON command a line, one JSON
// answer a line on stdout. The same script runs under Node, Bun, Deno and an
// emulated arm64 Node, so that tests can pair any of them with any other.
// Imports the bare 'tsshmem', so it tests whichever copy the process
// resolves (the repository's, or one installed from the packed tarball).
//   {"op":"info"}                        {runtime, arch, addon: the loaded .node file}
//   {"op":"create","name","shape","dtype"} / {"op":"open","name"}
//   {"op":"write","name","values"}       one write of the flat values
//   {"op":"read","name"}                 {values, count}
//   {"op":"next","name","timeout"}       {"waiting":true} at once, then {values, count}
//   {"op":"lock","name"} / {"op":"unlock","name"} / {"op":"lockInfo","name"}
//   {"op":"close","name"}                closes the handle (the test unlinks)
// A failure answers {"error", "code"}.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

import { create, open } from 'tsshmem';

const handles = new Map();
const handle = (name) => handles.get(name) ?? handles.set(name, open(name)).get(name);
const answer = (value) => process.stdout.write(`${JSON.stringify(value ?? { ok: true })}\n`);
const frame = (stream) => ({ values: Array.from(stream.read()), count: stream.count });

function runtime() {
  if (process.versions.bun) return `bun ${process.versions.bun}`;
  if (process.versions.deno) return `deno ${process.versions.deno}`;
  return `node ${process.versions.node}`;
}

/** The tsshmem addon this process mapped: the proof of which build it loaded. */
function loadedAddon() {
  const lines = readFileSync('/proc/self/maps', 'utf8').split('\n');
  const addon = lines.map((line) => line.split(/\s+/)[5]).find((path) => path?.endsWith('.node') && path.includes('tsshmem'));
  return addon ?? null;
}

const commands = {
  info: () => ({ runtime: runtime(), arch: process.arch, pid: process.pid, addon: loadedAddon() }),
  create: ({ name, shape, dtype }) => void handles.set(name, create(name, { shape, dtype })),
  open: ({ name }) => void handle(name),
  write: ({ name, values }) => void handle(name).write(values),
  read: ({ name }) => frame(handle(name)),
  next: async ({ name, timeout }) => {
    const stream = handle(name);
    const arrived = stream.next({ timeout });
    answer({ waiting: true });
    return { values: Array.from(await arrived), count: stream.count };
  },
  lock: ({ name }) => void handle(name).acquireSync({ timeout: 5000 }),
  unlock: ({ name }) => void handle(name).release(),
  lockInfo: ({ name }) => handle(name).lockInfo(),
  close: ({ name }) => {
    handles.get(name)?.close();
    handles.delete(name);
  },
};

createInterface({ input: process.stdin }).on('line', async (line) => {
  try {
    const { op, ...args } = JSON.parse(line);
    answer(await commands[op](args));
  } catch (error) {
    answer({ error: String(error?.message ?? error), code: error?.code ?? null });
  }
});
answer({ ready: true });
