// The tsshmem command line (src/cli/commands/): every command run as a child
// process against real streams, created by this process, by child processes
// that exit or stay alive, and by the Python peer in the pyshmem format.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, openSync, closeSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { create, open } from '../packages/tsshmem/dist/index.js';
import { baseName, lockPath } from '../packages/tsshmem/dist/format/names.js';
import { cliPath, leftovers, run, runPythonPeer, streamName } from './helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const libraryUrl = pathToFileURL(join(root, 'packages', 'tsshmem', 'dist', 'index.js')).href;
const TEST_TIMEOUT = 120000;
const WRITE_TIME_OFFSET = 8 * 8;
const LOCK_OWNER_PID_OFFSET = 10 * 8;

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Runs `tsshmem ...args`; resolves with { code, signal, stdout, stderr }. */
function cli(args, options) {
  return run(process.execPath, [cliPath, ...args], options).done;
}

/** Starts `tsshmem ...args`, killed after the test if still running. */
function startCli(t, args) {
  return killedAfter(t, run(process.execPath, [cliPath, ...args], { timeout: 60000 }));
}

/** Runs inline module code in a child node process; argv[1] is the JSON of args. */
function runNode(code, args, options) {
  return run(process.execPath, ['--input-type=module', '-e', code, JSON.stringify(args)], options);
}

function killedAfter(t, child) {
  t.after(async () => {
    if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill('SIGKILL');
    await child.done;
  });
  return child;
}

/** Creates a stream in a child process that exits without unlinking it: its creator is dead. */
async function createInDeadProcess(name, shape = [4], dtype = 'float32') {
  const code = `
    const { create } = await import(${JSON.stringify(libraryUrl)});
    const { name, shape, dtype } = JSON.parse(process.argv[1]);
    create(name, { shape, dtype }).close();`;
  const result = await runNode(code, { name, shape, dtype }).done;
  assert.equal(result.code, 0, result.stderr);
}

/** A child process that keeps the stream open (mapped) until the test ends. */
async function holdOpen(t, name) {
  const code = `
    const { open } = await import(${JSON.stringify(libraryUrl)});
    const stream = open(JSON.parse(process.argv[1]).name);
    console.log('open');
    setInterval(() => stream.count, 1000);`;
  const holder = killedAfter(t, runNode(code, { name }, { timeout: 60000 }));
  await holder.lines.waitFor('open', 20000);
  return holder;
}

/** A child process writing frames filled with 1, 2, 3... every 10 ms until the test ends. */
async function startWriter(t, name) {
  const code = `
    const { open } = await import(${JSON.stringify(libraryUrl)});
    const stream = open(JSON.parse(process.argv[1]).name);
    let frame = 0;
    setInterval(() => stream.write(new Float32Array(stream.size / 4).fill(++frame)), 10);
    console.log('writing');`;
  const writer = killedAfter(t, runNode(code, { name }, { timeout: 60000 }));
  await writer.lines.waitFor('writing', 20000);
  return writer;
}

async function createWithPython(name, shape, dtype) {
  const result = await runPythonPeer('create', { name, shape, dtype }).done;
  assert.equal(result.code, 0, result.stderr);
}

function temporaryDirectory(t) {
  const directory = mkdtempSync(join(tmpdir(), 'tsshmem-cli-'));
  t.after(() => rmSync(directory, { recursive: true, force: true }));
  return directory;
}

/** Loads a .npy file with numpy; values as strings (exact for int64 and uint64). */
async function numpyLoad(file) {
  const script = `import json, sys, numpy
a = numpy.load(sys.argv[1])
print(json.dumps({"descr": a.dtype.str, "shape": list(a.shape), "fortran": bool(a.flags.f_contiguous and a.ndim > 1), "values": [str(v) for v in a.ravel().tolist()]}))`;
  const result = await run('python3', ['-c', script, file]).done;
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}

/** Saves an array with numpy: expression is Python code using numpy as np. */
async function numpySave(file, expression) {
  const result = await run('python3', ['-c', `import sys, numpy as np\nnp.save(sys.argv[1], ${expression})`, file]).done;
  assert.equal(result.code, 0, result.stderr);
}

/**
 * Runs argv on a pseudo-terminal with python3's pty module, sends key once the
 * watch screen is drawn, and reports the exit code, the terminal modes while
 * running and after exit, and the output.
 */
const PTY_DRIVER = `
import json, os, pty, select, signal, sys, termios, time
argv = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
output = b''
deadline = time.time() + 20
def read_until(token):
    global output
    while token is None or token not in output:
        if time.time() > deadline:
            os.kill(pid, signal.SIGKILL)
            raise SystemExit('timed out; output: ' + repr(output))
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            return
        if not chunk:
            return
        output += chunk
read_until(b'q or Ctrl-C quits')
raw_while_running = not (termios.tcgetattr(fd)[3] & termios.ICANON)
os.write(fd, sys.argv[2].encode())
read_until(None)
_, status = os.waitpid(pid, 0)
lflag = termios.tcgetattr(fd)[3]
print(json.dumps({
    "exitCode": os.waitstatus_to_exitcode(status),
    "rawWhileRunning": raw_while_running,
    "canonicalAfter": bool(lflag & termios.ICANON),
    "echoAfter": bool(lflag & termios.ECHO),
    "output": output.decode('utf8', 'replace'),
}))
`;

async function onTerminal(argv, key) {
  const result = await run('python3', ['-c', PTY_DRIVER, JSON.stringify(argv), key], { timeout: 40000 }).done;
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}

async function lsRecord(name) {
  const result = await cli(['ls', '--json']);
  assert.equal(result.code, 0, result.stderr);
  const records = JSON.parse(result.stdout);
  assert.ok(Array.isArray(records));
  return records.find((record) => record.base === baseName(name));
}

/** The cells of the ls line of a stream, split on the column gaps. */
async function lsRow(label) {
  const result = await cli(['ls']);
  assert.equal(result.code, 0, result.stderr);
  const line = result.stdout.split('\n').find((candidate) => candidate.startsWith(`${label} `));
  assert.ok(line, `no ls line for ${label} in:\n${result.stdout}`);
  return line.split(/ {2,}/);
}

test('usage errors exit with code 2; --help of every command exits 0 with its description', { timeout: TEST_TIMEOUT }, async () => {
  for (const args of [['no-such-command'], ['ls', '--no-such-option'], ['info'], ['watch', 'x', '--interval', 'soon'], ['dump'], ['load', 'x'], ['rm'], []]) {
    const result = await cli(args);
    assert.equal(result.code, 2, `tsshmem ${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, /error|Usage/);
  }
  for (const command of ['ls', 'info', 'watch', 'dump', 'load', 'rm', 'clean']) {
    const result = await cli([command, '--help']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^Usage: tsshmem ${command} `));
  }
});

test('commands on a stream that does not exist exit with code 3', { timeout: TEST_TIMEOUT }, async (t) => {
  const missing = streamName(t, 'missing');
  for (const args of [['info', missing], ['dump', missing, '-o', '/dev/null'], ['watch', missing, '--duration', '1'], ['rm', missing]]) {
    const result = await cli(args);
    assert.equal(result.code, 3, `tsshmem ${args[0]}: ${result.stderr}`);
    assert.match(result.stderr, /does not exist/);
  }
});

test('ls lists a stream with name, shape, dtype, size, count, creator and lock; --json parses', { timeout: TEST_TIMEOUT }, async (t) => {
  const name = streamName(t, 'ls');
  const stream = create(name, { shape: [2, 3], dtype: 'int16' });
  stream.write([1, 2, 3, 4, 5, 6]);
  stream.write([1, 2, 3, 4, 5, 6]);

  const [label, shape, dtype, size, count, lastWrite, creator, lock, gpu] = await lsRow(name);
  assert.deepEqual([label, shape, dtype, size, count], [name, '[2, 3]', 'int16', '12 B', '2']);
  assert.match(lastWrite, /^\d+(\.\d)?s ago$/);
  assert.equal(creator, `${process.pid} (alive)`);
  assert.equal(lock, 'free');
  assert.equal(gpu, '-');

  const record = await lsRecord(name);
  assert.equal(record.name, name);
  assert.equal(record.problem, null);
  assert.deepEqual(record.metadata.shape, [2, 3]);
  assert.equal(record.metadata.dtype, 'int16');
  assert.equal(record.metadata.size, 12);
  assert.equal(record.metadata.count, 2);
  assert.equal(record.metadata.creatorPid, process.pid);
  assert.equal(record.metadata.creatorAlive, true);
  assert.equal(record.metadata.gpu, false);
  assert.equal(record.metadata.extensionVersion, 1);
  assert.equal(record.lock.held, false);
  stream.close();
});

test('ls shows who holds a lock, and a dead recorded owner as a stale record of a free lock', { timeout: TEST_TIMEOUT }, async (t) => {
  const held = streamName(t, 'ls-held');
  await createWithPython(held, [4], 'float32');
  const holder = killedAfter(t, runPythonPeer('hold-lock', { name: held, seconds: 60 }, { timeout: 90000 }));
  await holder.lines.waitFor('locked', 20000);
  const heldRecord = await lsRecord(held);
  assert.equal(heldRecord.lock.held, true);
  assert.equal(heldRecord.lock.ownerPid, holder.child.pid);
  assert.equal((await lsRow(baseName(held)))[7], `held by ${holder.child.pid}`);

  const stale = streamName(t, 'ls-stale');
  await createWithPython(stale, [4], 'float32');
  const deadPid = (await lsRecord(stale)).metadata.creatorPid;
  const meta = openSync(`/dev/shm/${baseName(stale)}_meta`, 'r+');
  const pid = Buffer.alloc(8);
  pid.writeDoubleLE(deadPid);
  writeSync(meta, pid, 0, 8, LOCK_OWNER_PID_OFFSET);
  closeSync(meta);
  const staleRecord = await lsRecord(stale);
  assert.equal(staleRecord.lock.held, false);
  assert.equal(staleRecord.lock.ownerPid, deadPid);
  assert.equal(staleRecord.lock.staleRecord, true);
  assert.equal((await lsRow(baseName(stale)))[7], `free (stale ${deadPid})`);
});

test('ls and info of a stream whose write time no date can hold print it as it is, without failing', { timeout: TEST_TIMEOUT }, async (t) => {
  const name = streamName(t, 'hostile-time');
  create(name, { shape: [4], dtype: 'float32' }).close();
  const meta = openSync(`/dev/shm/${baseName(name)}_meta`, 'r+');
  const time = Buffer.alloc(8);
  time.writeDoubleLE(1e300);
  writeSync(meta, time, 0, 8, WRITE_TIME_OFFSET);
  closeSync(meta);
  const record = await lsRecord(name);
  assert.equal(record.metadata.writeTime, 1e300);
  assert.equal(record.metadata.writeTimeIso, null);
  const info = await cli(['info', name]);
  assert.equal(info.code, 0, info.stderr);
  assert.match(info.stdout, /1e\+300 \(not a valid time\)/);
});

test('ls and info show a stream created by pyshmem under its base name, without creating its lock file', { timeout: TEST_TIMEOUT }, async (t) => {
  const name = streamName(t, 'pyshmem');
  const base = baseName(name);
  await createWithPython(name, [3, 2], 'float64');

  const [label, shape, dtype, size, count, lastWrite, creator] = await lsRow(base);
  assert.deepEqual([label, shape, dtype, size, count, lastWrite], [base, '[3, 2]', 'float64', '48 B', '0', 'never']);
  assert.match(creator, /^\d+ \(dead\)$/);
  const record = await lsRecord(name);
  assert.equal(record.name, null);
  assert.equal(record.label, base);
  assert.equal(record.metadata.extensionVersion, null);

  const info = await cli(['info', base]);
  assert.equal(info.code, 0, info.stderr);
  assert.match(info.stdout, /^name +\(not stored: created by pyshmem\)$/m);
  assert.match(info.stdout, new RegExp(`^base +${escapeRegExp(base)}$`, 'm'));
  assert.match(info.stdout, /^shape +\[3, 2\] \(6 elements\)$/m);
  assert.match(info.stdout, /^metadata object +\/dev\/shm\/\w+_meta \(256 bytes/m);
  assert.equal(existsSync(lockPath(name)), false, 'ls and info must not create the lock file');
});

test('info prints every metadata field; --json has them and the derived ones', { timeout: TEST_TIMEOUT }, async (t) => {
  const name = streamName(t, 'info');
  const stream = create(name, { shape: [4, 4], dtype: 'float32' });
  stream.write(new Float32Array(16).fill(1.5));

  const text = await cli(['info', name]);
  assert.equal(text.code, 0, text.stderr);
  for (const field of ['version', 'count', 'dtype', 'ndim', 'shape', 'size', 'gpu enabled', 'device index', 'creator pid', 'write time', 'write sequence', 'lock owner pid', 'lock depth', 'cpu mirror']) {
    assert.match(text.stdout, new RegExp(`^${field}  `, 'm'), `info lacks ${field}`);
  }
  assert.match(text.stdout, new RegExp(`^name +${escapeRegExp(name)}$`, 'm'));
  assert.match(text.stdout, /^write sequence +2 \(stable\)$/m);

  const json = await cli(['info', name, '--json']);
  assert.equal(json.code, 0, json.stderr);
  const record = JSON.parse(json.stdout);
  assert.equal(record.name, name);
  assert.equal(record.base, baseName(name));
  assert.deepEqual(
    { ...record.metadata, writeTime: 0, writeTimeIso: null, ageSeconds: null },
    {
      version: 2,
      count: 1,
      dtype: 'float32',
      dtypeCode: 9,
      itemSize: 4,
      ndim: 2,
      shape: [4, 4],
      elements: 16,
      size: 64,
      gpu: false,
      deviceIndex: -1,
      gpuDevice: null,
      cpuMirror: true,
      creatorPid: process.pid,
      creatorAlive: true,
      writeTime: 0,
      writeTimeIso: null,
      ageSeconds: null,
      writeSequence: 2,
      writeState: 'stable',
      extensionVersion: 1,
    },
  );
  assert.ok(Math.abs(record.metadata.writeTime - stream.writeTime) < 1e-6);
  assert.equal(record.lock.depth, 0);
  assert.equal(record.objects.data.bytes, 64);
  stream.close();
});

test('dump writes .npy files that numpy.load reads with the right dtype, shape and values', { timeout: TEST_TIMEOUT }, async (t) => {
  const directory = temporaryDirectory(t);
  const cases = [
    { dtype: 'float16', descr: '<f2', shape: [3], values: [0.5, -2, 65504], parse: Number },
    { dtype: 'int64', descr: '<i8', shape: [2, 2], values: [-(2n ** 63n), 2n ** 62n + 1n, -5n, 0n], parse: BigInt },
    { dtype: 'uint64', descr: '<u8', shape: [2], values: [2n ** 64n - 1n, 7n], parse: BigInt },
    { dtype: 'int8', descr: '|i1', shape: [2, 1, 2], values: [-128, 127, 0, -1], parse: Number },
    { dtype: 'float32', descr: '<f4', shape: [2, 3], values: [0.25, -1, 3, 1e10, -0, 7.5], parse: Number },
  ];
  for (const { dtype, descr, shape, values, parse } of cases) {
    const name = streamName(t, `dump-${dtype}`);
    const stream = create(name, { shape, dtype });
    stream.write(values);
    stream.close();
    const file = join(directory, `${dtype}.npy`);
    const result = await cli(['dump', name, '-o', file]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`\\[${shape.join(', ')}\\] ${dtype}, write 1 -> `));
    const loaded = await numpyLoad(file);
    assert.equal(loaded.descr, descr);
    assert.deepEqual(loaded.shape, shape);
    assert.deepEqual(loaded.values.map(parse), values.map(parse), dtype);
  }
});

test('dump writes to stdout when it is not a terminal, and dumps a pyshmem stream by its base name', { timeout: TEST_TIMEOUT }, async (t) => {
  const name = streamName(t, 'dump-python');
  await createWithPython(name, [2, 2], 'uint16');
  const written = await runPythonPeer('write', { name, values: [1, 2, 65535, 4] }).done;
  assert.equal(written.code, 0, written.stderr);
  const script = 'import io, sys, numpy; a = numpy.load(io.BytesIO(sys.stdin.buffer.read())); print(a.dtype.str, a.shape, a.ravel().tolist())';
  const pipeline = `${JSON.stringify(process.execPath)} ${JSON.stringify(cliPath)} dump ${baseName(name)} | python3 -c '${script}'`;
  const result = await run('sh', ['-c', pipeline]).done;
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout.trim(), '<u2 (2, 2) [1, 2, 65535, 4]');
});

test('load writes a .npy file into a stream, checking dtype and shape; --create makes a missing stream', { timeout: TEST_TIMEOUT }, async (t) => {
  const directory = temporaryDirectory(t);
  const floats = join(directory, 'floats.npy');
  await numpySave(floats, "np.arange(6, dtype='<f4').reshape(2, 3) * 1.5");

  const existing = streamName(t, 'load-existing');
  const stream = create(existing, { shape: [2, 3], dtype: 'float32' });
  const loaded = await cli(['load', existing, floats]);
  assert.equal(loaded.code, 0, loaded.stderr);
  assert.deepEqual(stream.read(), Float32Array.from([0, 1.5, 3, 4.5, 6, 7.5]));
  assert.equal(stream.count, 1);

  const rejected = [
    ['ints.npy', "np.zeros((2, 3), dtype='<i2')", /holds \[2, 3\] int16 but stream .* is \[2, 3\] float32/],
    ['shape.npy', "np.zeros((3, 2), dtype='<f4')", /holds \[3, 2\] float32 but stream .* is \[2, 3\] float32/],
    ['big-endian.npy', "np.zeros((2, 3), dtype='>f4')", /big-endian \('>f4'\)/],
    ['fortran.npy', "np.asfortranarray(np.zeros((2, 3), dtype='<f4'))", /Fortran order/],
    ['complex.npy', "np.zeros((2, 3), dtype='<c8')", /dtype "<c8" is not one of the stream dtypes/],
  ];
  for (const [file, expression, message] of rejected) {
    await numpySave(join(directory, file), expression);
    const result = await cli(['load', existing, join(directory, file)]);
    assert.equal(result.code, 1, `${file}: ${result.stderr}`);
    assert.match(result.stderr, message);
  }
  assert.equal(stream.count, 1, 'a rejected file writes nothing');
  stream.close();

  const fresh = streamName(t, 'load-create');
  const int64 = join(directory, 'int64.npy');
  await numpySave(int64, "np.array([[-(2**62), 3], [2**53 + 1, -1]], dtype='<i8')");
  const missing = await cli(['load', fresh, int64]);
  assert.equal(missing.code, 3, missing.stderr);
  assert.match(missing.stderr, /--create/);
  const created = await cli(['load', fresh, int64, '--create']);
  assert.equal(created.code, 0, created.stderr);
  assert.match(created.stdout, /\(created\)/);
  const opened = open(fresh);
  assert.equal(opened.dtype, 'int64');
  assert.deepEqual(opened.shape, [2, 2]);
  assert.deepEqual(opened.read(), BigInt64Array.from([-(2n ** 62n), 3n, 2n ** 53n + 1n, -1n]));
  opened.close();
});

test('load writes into a pyshmem stream addressed by its base name', { timeout: TEST_TIMEOUT }, async (t) => {
  const directory = temporaryDirectory(t);
  const name = streamName(t, 'load-python');
  await createWithPython(name, [3], 'float16');
  const file = join(directory, 'halves.npy');
  await numpySave(file, "np.array([0.5, -3, 1024], dtype='<f2')");
  const loaded = await cli(['load', baseName(name), file]);
  assert.equal(loaded.code, 0, loaded.stderr);
  const read = await runPythonPeer('read', { name }).done;
  assert.equal(read.code, 0, read.stderr);
  const { values, count, write_sequence: sequence } = JSON.parse(read.stdout);
  assert.deepEqual(values, [0.5, -3, 1024]);
  assert.equal(count, 1);
  assert.equal(sequence, 2);
});

test('rm removes streams and their lock files; a missing name gives exit code 3 after removing the others', { timeout: TEST_TIMEOUT }, async (t) => {
  const first = streamName(t, 'rm-first');
  const second = streamName(t, 'rm-second');
  const missing = streamName(t, 'rm-missing');
  create(first, { shape: [1] }).close();
  await createWithPython(second, [2], 'int32');
  assert.notDeepEqual(leftovers(first), []);

  const result = await cli(['rm', first, missing, baseName(second)]);
  assert.equal(result.code, 3, result.stderr);
  assert.match(result.stdout, new RegExp(`^removed ${escapeRegExp(first)} \\(${baseName(first)}\\)$`, 'm'));
  assert.match(result.stdout, new RegExp(`^removed ${baseName(second)}$`, 'm'));
  assert.match(result.stderr, /does not exist/);
  assert.deepEqual(leftovers(first), []);
  assert.deepEqual(leftovers(second), []);
});

test('clean removes a stream whose creator is dead and that no process maps, and keeps streams in use', { timeout: TEST_TIMEOUT }, async (t) => {
  const orphan = streamName(t, 'clean-orphan');
  const mapped = streamName(t, 'clean-mapped');
  const live = streamName(t, 'clean-live');
  await createInDeadProcess(orphan);
  await createInDeadProcess(mapped);
  const holder = await holdOpen(t, mapped);
  create(live, { shape: [4] }).close();

  const dryRun = await cli(['clean', '--dry-run', '--verbose', orphan, mapped, live]);
  assert.equal(dryRun.code, 0, dryRun.stderr);
  assert.match(dryRun.stdout, new RegExp(`^would remove ${escapeRegExp(orphan)} .*creator pid \\d+ is dead and no process maps it$`, 'm'));
  assert.match(dryRun.stdout, new RegExp(`^kept ${escapeRegExp(mapped)} .*: mapped by pid ${holder.child.pid}$`, 'm'));
  assert.match(dryRun.stdout, new RegExp(`^kept ${escapeRegExp(live)} .*: creator pid ${process.pid} is alive$`, 'm'));
  assert.match(dryRun.stdout, /^1 would be removed, 2 kept$/m);
  assert.notDeepEqual(leftovers(orphan), [], 'a dry run removes nothing');

  const cleaned = await cli(['clean', orphan, mapped, live]);
  assert.equal(cleaned.code, 0, cleaned.stderr);
  assert.match(cleaned.stdout, /^1 removed, 2 kept$/m);
  assert.deepEqual(leftovers(orphan), []);
  assert.notDeepEqual(leftovers(mapped), []);
  assert.notDeepEqual(leftovers(live), []);
});

test('watch prints plain lines with the rate, count and frame statistics while a writer writes', { timeout: TEST_TIMEOUT }, async (t) => {
  const name = streamName(t, 'watch');
  create(name, { shape: [8], dtype: 'float32' }).close();
  await startWriter(t, name);

  const result = await cli(['watch', name, '--duration', '2', '--interval', '200']);
  assert.equal(result.code, 0, result.stderr);
  const samples = result.stdout
    .split('\n')
    .filter((line) => line.startsWith(`${name} `))
    .map((line) => /rate=(?<rate>-|[\d.]+Hz) count=(?<count>\d+) skipped=(?<skipped>\d+) min=(?<min>\S+) max=(?<max>\S+) mean=(?<mean>\S+)$/.exec(line)?.groups);
  assert.ok(samples.length >= 2, result.stdout);
  assert.ok(samples.every((sample) => sample !== undefined), result.stdout);
  assert.equal(samples[0].rate, '-');
  const later = samples.slice(1);
  assert.ok(later.some((sample) => parseFloat(sample.rate) > 0), result.stdout);
  assert.ok(Number(samples.at(-1).count) > Number(samples[0].count), result.stdout);
  for (const sample of samples) {
    assert.equal(sample.min, sample.max, 'every frame is uniform');
    assert.equal(sample.mean, sample.min);
  }
});

test('watch stops on SIGINT when stdin is not a terminal', { timeout: TEST_TIMEOUT }, async (t) => {
  const name = streamName(t, 'watch-sigint');
  const stream = create(name, { shape: [2], dtype: 'int64' });
  stream.write([5n, -7n]);
  const watcher = startCli(t, ['watch', name, '--interval', '100']);
  await watcher.lines.waitFor(new RegExp(`^${escapeRegExp(name)} rate=\\S+ count=1 skipped=0 min=-7 max=5 mean=-1$`), 20000);
  watcher.child.kill('SIGINT');
  const result = await watcher.done;
  assert.equal(result.code, 0, result.stderr);
  stream.close();
});

test('watch on a terminal redraws in raw mode, quits on q or Ctrl-C and restores the terminal', { timeout: TEST_TIMEOUT }, async (t) => {
  const name = streamName(t, 'watch-tty');
  const stream = create(name, { shape: [3], dtype: 'float16' });
  stream.write([1, 2, 3]);
  stream.close();
  for (const key of ['q', '\x03']) {
    // --duration only bounds a failing run; q or Ctrl-C ends it long before.
    const session = await onTerminal([process.execPath, cliPath, 'watch', name, '--interval', '100', '--duration', '30'], key);
    assert.equal(session.exitCode, 0, session.output);
    assert.equal(session.rawWhileRunning, true);
    assert.equal(session.canonicalAfter, true, 'raw mode is turned off');
    assert.equal(session.echoAfter, true);
    assert.ok(session.output.startsWith('\x1b[?25l'), 'the cursor is hidden while drawing');
    assert.ok(session.output.endsWith('\x1b[?25h'), 'the cursor is shown again');
    assert.match(session.output, /NAME +RATE +COUNT +SKIPPED +MIN +MAX +MEAN +RATE HISTORY\r$/m);
    assert.match(session.output, new RegExp(`^${escapeRegExp(name)} +\\S+( Hz)? +1 +0 +1 +3 +2\\b`, 'm'));
  }
});
