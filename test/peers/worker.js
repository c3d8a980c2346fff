// A worker thread (not a process) for 55-worker. workerData.task:
//   "read-until": opens `name`, reads every new write (readNew) until one
//                 holds `last`; posts { frames, torn, last } (torn: snapshots not uniform)
//   "acquire":    opens `name`, posts "opened", then "busy" or "free" (whether
//                 the lock is taken as it starts to wait), takes the lock
//                 (timeout ms), posts "acquired" or the error code, releases
//                 and closes
//   "abandon":    opens `name` `handles` times, reads and writes through each,
//                 posts "opened", waits for any message, posts "ending" and
//                 ends without closing any handle
//   "hold":       opens `name`, takes the lock, posts "locked" and ends
//                 without releasing it or closing
import { once } from 'node:events';
import { parentPort, workerData } from 'node:worker_threads';

import { open } from '../../packages/tsshmem/dist/index.js';

const tasks = {
  async 'read-until'({ name, last }) {
    const stream = open(name);
    parentPort.postMessage('opened');
    let frames = 0;
    let torn = 0;
    let value;
    do {
      const frame = await stream.readNew({ timeout: 15000 });
      frames++;
      value = frame[0];
      if (!frame.every((element) => element === value)) torn++;
    } while (value !== last);
    stream.close();
    return { frames, torn, last: value };
  },
  async acquire({ name, timeout }) {
    const stream = open(name);
    parentPort.postMessage('opened');
    parentPort.postMessage(stream.lockInfo().locked ? 'busy' : 'free');
    try {
      await stream.acquire({ timeout });
    } catch (error) {
      stream.close();
      return error.code;
    }
    stream.release();
    stream.close();
    return 'acquired';
  },
  async hold({ name }) {
    await open(name).acquire();
    return 'locked';
  },
  async abandon({ name, handles }) {
    for (let i = 0; i < handles; i++) {
      const stream = open(name);
      stream.write(stream.read());
    }
    parentPort.postMessage('opened');
    await once(parentPort, 'message');
    return 'ending';
  },
};

parentPort.postMessage(await tasks[workerData.task](workerData));
