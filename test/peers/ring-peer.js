// A peer process on a ring stream, for test/45-ring*.test.js. Prints a
// handshake line when it reaches the state the test wants, then either ends
// or waits (forever, until killed).
// Usage: node ring-peer.js '{"command", "name", ...}', command one of:
//   loan       {value}                opens, loans a slot, fills it with value, prints "loaned", waits
//   hold       {samples}              opens, prints "waiting", holds `samples` samples from nextSample(),
//                                     prints "holding <counts joined by ,>", waits
//   register   {}                     opens, register()s as a reader, prints "registered", waits
//   produce    {count, pauseEvery,    writes frames 1..count (every element of frame n is n), pausing
//               pauseMs, async,       pauseMs after every pauseEvery writes; async: writeAsync; timeout:
//               timeout}              each write's (a number or "Infinity"; default 20000); prints "done"
//   consume    {count, timeout}       prints "ready", then next() until frame `count`; prints
//                                     {seen, missed, inOrder, whole}
import { open } from '../../packages/tsshmem/dist/index.js';

const args = JSON.parse(process.argv[2]);
const { command } = args;
const stream = open(args.name);
const forever = () => new Promise(() => setInterval(() => {}, 1 << 30));

switch (command) {
  case 'loan': {
    const loan = stream.loan();
    loan.array.fill(args.value);
    console.log('loaned');
    await forever();
    break;
  }
  case 'hold': {
    console.log('waiting');
    const held = [];
    for (let i = 0; i < args.samples; i++) held.push(await stream.nextSample({ timeout: 15000 }));
    console.log(`holding ${held.map((sample) => sample.count).join(',')}`);
    await forever();
    break;
  }
  case 'register': {
    stream.register();
    console.log('registered');
    await forever();
    break;
  }
  case 'produce': {
    const { count, pauseEvery = 0, pauseMs = 0 } = args;
    const timeout = Number(args.timeout ?? 20000);
    const frame = new Int32Array(stream.size / 4);
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (let n = 1; n <= count; n++) {
      if (args.async) await stream.writeAsync(frame.fill(n), { timeout });
      else stream.write(frame.fill(n), { timeout });
      if (pauseEvery > 0 && n % pauseEvery === 0) Atomics.wait(pause, 0, 0, pauseMs);
    }
    console.log('done');
    break;
  }
  case 'consume': {
    console.log('ready');
    let seen = 0;
    let last = 0;
    let inOrder = true;
    let whole = true;
    while (last < args.count) {
      const frame = await stream.next({ timeout: args.timeout ?? 20000 });
      inOrder &&= frame[0] > last && stream.lastReadCount === frame[0];
      whole &&= frame.every((value) => value === frame[0]);
      last = frame[0];
      seen++;
    }
    console.log(JSON.stringify({ seen, missed: stream.totalMissedWrites, inOrder, whole }));
    break;
  }
  default:
    throw new Error(`unknown command ${command}`);
}
stream.close();
