// Run with --expose-gc. Opens `handles` handles spread over the existing
// streams `names`, writes and reads through each, drops them all without
// close(), collects garbage, and prints the process's open descriptors and
// /dev/shm mappings of those streams before, while and after, as JSON
// (`leaked`: the targets of descriptors open after but not before).
// Usage: node --expose-gc gc-probe.js '{"names", "handles"}'
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { setImmediate as tick } from 'node:timers/promises';

import { open } from '../../packages/tsshmem/dist/index.js';
import { baseName } from '../../packages/tsshmem/dist/format/names.js';

const { names, handles } = JSON.parse(process.argv[2]);
const bases = names.map(baseName);
const fds = () => readdirSync('/proc/self/fd').length;
const mappings = () => readFileSync('/proc/self/maps', 'utf8').split('\n').filter((line) => bases.some((base) => line.includes(`/dev/shm/${base}`))).length;

function descriptorTargets() {
  return readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      return [readlinkSync(`/proc/self/fd/${fd}`)];
    } catch {
      return [];
    }
  });
}

for (const name of names) open(name).close();
const targetsBefore = new Set(descriptorTargets());
const before = { fds: fds(), mappings: mappings() };

function useAndDrop() {
  for (let i = 0; i < handles; i++) {
    const stream = open(names[i % names.length]);
    stream.write(stream.read());
  }
  return { fds: fds(), mappings: mappings() };
}
const during = useAndDrop();

for (let round = 0; round < 10; round++) {
  globalThis.gc();
  await tick();
}
const after = { fds: fds(), mappings: mappings() };
const leaked = descriptorTargets().filter((target) => !targetsBefore.has(target));
console.log(JSON.stringify({ before, during, after, leaked }));
