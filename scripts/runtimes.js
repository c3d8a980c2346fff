// The JavaScript runtimes the tests run tsshmem under, taken from the npm
// registry on first use (no system install): Node 20, 22 and 24, Bun, Deno,
// and an arm64 Node for the emulated arm64 test. Versions are pinned here
// and nowhere else. Each is unpacked once into node_modules/.cache; npm's own
// cache makes a second fetch local.
//
//   node scripts/runtimes.js <name>   prints the binary's path, fetching it if needed
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cache = join(root, 'node_modules', '.cache', 'tsshmem-runtimes');

const nodeArch = (arch) => ({ x64: 'x64', arm64: 'arm64' })[arch];
const bunArch = (arch) => ({ x64: 'x64', arm64: 'aarch64' })[arch];

/** name -> the npm package (for the given CPU) and the binary inside it. */
const RUNTIMES = {
  node20: { spec: (arch) => `node-linux-${nodeArch(arch)}@20.20.2`, binary: 'bin/node' },
  node22: { spec: (arch) => `node-linux-${nodeArch(arch)}@22.23.5`, binary: 'bin/node' },
  node24: { spec: (arch) => `node-linux-${nodeArch(arch)}@24.22.3`, binary: 'bin/node' },
  bun: { spec: (arch) => `@oven/bun-linux-${bunArch(arch)}@1.4.5`, binary: 'bin/bun' },
  deno: { spec: (arch) => `@deno/linux-${nodeArch(arch)}-glibc@2.9.6`, binary: 'deno' },
};

/** The Node majors the suite runs under (npm test). */
export const NODE_MAJORS = [20, 22, 24];

/**
 * The path of a runtime's binary, fetched from the npm registry if not yet
 * here. arch: the CPU it is for (default this machine's; 'arm64' on an x64
 * machine gives a binary for qemu).
 */
export function runtimeBinary(name, arch = process.arch) {
  const runtime = RUNTIMES[name];
  if (runtime === undefined) throw new Error(`unknown runtime ${name}: one of ${Object.keys(RUNTIMES).join(', ')}`);
  const spec = runtime.spec(arch);
  if (spec.includes('undefined')) throw new Error(`no ${name} package for ${arch}`);
  const directory = join(cache, spec.replace('/', '+'));
  const binary = join(directory, runtime.binary);
  if (!existsSync(binary)) unpack(spec, directory);
  return binary;
}

/** npm pack checks the tarball against the registry's integrity hash. */
function unpack(spec, directory) {
  process.stderr.write(`fetching ${spec} from the npm registry (once)\n`);
  mkdirSync(cache, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'tsshmem-runtime-'));
  try {
    const [packed] = JSON.parse(execFileSync('npm', ['pack', spec, '--json', '--pack-destination', work], { cwd: work, encoding: 'utf8' }));
    const unpacked = join(work, 'unpacked');
    mkdirSync(unpacked);
    execFileSync('tar', ['-xzf', join(work, packed.filename), '-C', unpacked, '--strip-components=1']);
    rmSync(directory, { recursive: true, force: true });
    renameSync(unpacked, directory);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  // Some packages ship the binary without its execute bit (postinstall scripts set it).
  for (const runtime of Object.values(RUNTIMES)) {
    const candidate = join(directory, runtime.binary);
    if (existsSync(candidate)) chmodSync(candidate, 0o755);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [name, arch] = process.argv.slice(2);
  console.log(runtimeBinary(name, arch));
}
