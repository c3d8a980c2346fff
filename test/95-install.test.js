// The package as a user meets it: `npm pack` of packages/tsshmem (prepack
// builds the linux-x64 and linux-arm64 prebuilds), installed from the
// tarball into an empty project on a PATH with no compiler, make or python;
// then processes of that project, x64 and arm64 (under qemu-user), exchange
// frames through the prebuilt addons.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { runtimeBinary } from '../scripts/runtimes.js';
import { peersDirectory, streamName } from './helpers.js';
import { startRuntimePeer } from './runtime-peers.js';

const libraryPackage = join(dirname(fileURLToPath(import.meta.url)), '..', 'packages', 'tsshmem');
const CROSS_ROOT = '/usr/aarch64-linux-gnu';

let work;
let packed;
let project;
let noCompilerPath;

before(() => {
  work = mkdtempSync(join(tmpdir(), 'tsshmem-install-'));
  // prepack's own output (the builds) comes before the JSON on stdout.
  const output = execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: libraryPackage, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  [packed] = JSON.parse(output.slice(output.search(/^\[$/m)));
  noCompilerPath = essentialsOnly(join(work, 'bin'));
  project = join(work, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'user-project', private: true, type: 'module' }));
  copyFileSync(join(peersDirectory, 'runtime-peer.js'), join(project, 'runtime-peer.js'));
});

after(() => rmSync(work, { recursive: true, force: true }));

/** A bin directory with node, npm and sh only: no cc, g++, make or python3. */
function essentialsOnly(bin) {
  mkdirSync(bin);
  const npm = realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim());
  for (const [name, target] of [['node', process.execPath], ['npm', npm], ['sh', '/bin/sh']]) symlinkSync(target, join(bin, name));
  return bin;
}

const noCompilerEnv = () => ({ PATH: noCompilerPath });

test('npm pack holds the library only (dist with self-contained source maps, native sources, binding.gyp, prebuilds, README) and two runtime dependencies', () => {
  const paths = packed.files.map((file) => file.path);
  const allowed = /^(dist\/.+\.(js|d\.ts|js\.map)|src\/native\/([a-z]+\/)?[a-z_]+\.(cc|h)|binding\.gyp|prebuilds\/linux-(x64|arm64)\/tsshmem\.glibc\.node|README\.md|package\.json)$/;
  assert.deepEqual(paths.filter((path) => !allowed.test(path)), []);
  for (const required of ['dist/index.js', 'dist/index.d.ts', 'binding.gyp', 'src/native/addon.cc', 'README.md', 'package.json']) assert.ok(paths.includes(required), required);
  assert.ok(paths.includes('prebuilds/linux-x64/tsshmem.glibc.node'));
  assert.ok(paths.includes('prebuilds/linux-arm64/tsshmem.glibc.node'));
  assert.equal(paths.some((path) => /cli|viewer|bench|\.c$/.test(path)), false);
  const manifest = JSON.parse(execFileSync('tar', ['-xzOf', join(work, packed.filename), 'package/package.json'], { encoding: 'utf8' }));
  assert.deepEqual(Object.keys(manifest.dependencies).sort(), ['node-addon-api', 'node-gyp-build']);
  // The TypeScript sources are not shipped: each source map carries its own.
  const sourceMap = JSON.parse(execFileSync('tar', ['-xzOf', join(work, packed.filename), 'package/dist/index.js.map'], { encoding: 'utf8' }));
  assert.ok(sourceMap.sourcesContent?.[0]?.includes('export'), 'dist/index.js.map carries the source it maps');
});

// Where no prebuild fits (another libc or architecture), node-gyp-build
// compiles the addon from the packed sources: every source binding.gyp
// names, and every header they include, must be in the tarball.
test('npm pack holds every native source binding.gyp compiles and every header they include', () => {
  const paths = new Set(packed.files.map((file) => file.path));
  const gyp = JSON.parse(readFileSync(join(libraryPackage, 'binding.gyp'), 'utf8'));
  const sources = gyp.targets.flatMap((target) => target.sources);
  assert.deepEqual(sources.filter((source) => !paths.has(source)), [], 'sources missing from the tarball');
  const missingHeaders = [];
  for (const file of [...paths].filter((path) => /^src\/native\/.+\.(cc|h)$/.test(path))) {
    for (const [, header] of readFileSync(join(libraryPackage, file), 'utf8').matchAll(/^#include "([^"]+)"/gm)) {
      const sameFolder = join(dirname(file), header);
      if (!paths.has(sameFolder) && !paths.has(join('src/native', header))) missingHeaders.push(`${file}: ${header}`);
    }
  }
  assert.deepEqual(missingHeaders, [], 'included headers missing from the tarball');
});

test('installs from the tarball on a PATH without a compiler, make or python, using the prebuild', () => {
  const found = spawnSync('/bin/sh', ['-c', 'command -v cc gcc c++ g++ clang make python3 python'], { env: noCompilerEnv(), encoding: 'utf8' });
  assert.equal(found.stdout, '', 'the PATH of the install must hold no build tools');
  const install = spawnSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(work, packed.filename)], {
    cwd: project,
    env: { ...process.env, ...noCompilerEnv() },
    encoding: 'utf8',
  });
  assert.equal(install.status, 0, install.stderr);
  const installed = join(project, 'node_modules', 'tsshmem');
  assert.ok(existsSync(join(installed, 'prebuilds', 'linux-x64', 'tsshmem.glibc.node')));
  assert.equal(existsSync(join(installed, 'build')), false, 'no source build ran');
});

test('two x64 processes of the installed package exchange frames, next() woken by the writer', async (t) => {
  const name = streamName(t, 'installed');
  const options = { cwd: project, env: noCompilerEnv() };
  const writer = await startRuntimePeer(t, process.execPath, ['runtime-peer.js'], options);
  const reader = await startRuntimePeer(t, process.execPath, ['runtime-peer.js'], options);
  const info = await reader.ask({ op: 'info' });
  assert.equal(info.addon, join(realpathSync(project), 'node_modules', 'tsshmem', 'prebuilds', 'linux-x64', 'tsshmem.glibc.node'));

  await writer.ask({ op: 'create', name, shape: [4], dtype: 'float64' });
  await writer.ask({ op: 'write', name, values: [1, 2, 3, 4] });
  assert.deepEqual((await writer.ask({ op: 'read', name })).values, [1, 2, 3, 4]);
  assert.deepEqual((await reader.ask({ op: 'read', name })).values, [1, 2, 3, 4]);
  await reader.ask({ op: 'next', name, timeout: 20000 });
  await writer.ask({ op: 'write', name, values: [5, 6, 7, 8] });
  assert.deepEqual((await reader.answer()).values, [5, 6, 7, 8]);
  for (const peer of [writer, reader]) await peer.ask({ op: 'close', name });
});

test('the linux-arm64 prebuild under qemu-user and an x64 process share streams both ways: format, lock, wakes', async (t) => {
  const major = process.versions.node.split('.')[0];
  const qemu = spawnSync('sh', ['-c', 'command -v qemu-aarch64'], { encoding: 'utf8' }).stdout.trim();
  assert.ok(qemu, 'qemu-aarch64 missing: scripts/install-test-deps installs qemu-user');
  assert.ok(existsSync(join(CROSS_ROOT, 'lib', 'libstdc++.so.6')), `${CROSS_ROOT} lacks arm64 libstdc++: scripts/install-test-deps installs it`);
  const arm64Node = runtimeBinary(`node${major}`, 'arm64');
  const up = streamName(t, 'to-arm64');
  const down = streamName(t, 'from-arm64');
  const options = { cwd: project, env: noCompilerEnv(), timeout: 120000 };
  const x64 = await startRuntimePeer(t, process.execPath, ['runtime-peer.js'], options);
  const arm64 = await startRuntimePeer(t, qemu, ['-L', CROSS_ROOT, arm64Node, 'runtime-peer.js'], options);
  const arm64Info = await arm64.ask({ op: 'info' });
  assert.equal(arm64Info.arch, 'arm64');
  assert.match(arm64Info.addon, /\/node_modules\/tsshmem\/prebuilds\/linux-arm64\/tsshmem\.glibc\.node$/);

  await x64.ask({ op: 'create', name: up, shape: [2, 3], dtype: 'int32' });
  await x64.ask({ op: 'create', name: down, shape: [5], dtype: 'float32' });
  await arm64.ask({ op: 'open', name: up });
  await arm64.ask({ op: 'open', name: down });

  // An x64 writer wakes an arm64 next().
  await arm64.ask({ op: 'next', name: up, timeout: 60000 });
  await x64.ask({ op: 'write', name: up, values: [1, -2, 3, -4, 5, -6] });
  assert.deepEqual(await arm64.answer(), { values: [1, -2, 3, -4, 5, -6], count: 1 });

  // An arm64 writer wakes an x64 next().
  await x64.ask({ op: 'next', name: down, timeout: 60000 });
  await arm64.ask({ op: 'write', name: down, values: [0.5, 1.5, 2.5, 3.5, 4.5] });
  assert.deepEqual(await x64.answer(), { values: [0.5, 1.5, 2.5, 3.5, 4.5], count: 1 });

  // One lock: held by the arm64 process, seen held by the x64 one.
  await arm64.ask({ op: 'lock', name: up });
  assert.deepEqual(await x64.ask({ op: 'lockInfo', name: up }), { locked: true, ownerPid: arm64Info.pid, heldByThisThread: false });
  await arm64.ask({ op: 'unlock', name: up });
  assert.equal((await x64.ask({ op: 'lockInfo', name: up })).locked, false);
  for (const peer of [x64, arm64]) for (const name of [up, down]) await peer.ask({ op: 'close', name });
});
