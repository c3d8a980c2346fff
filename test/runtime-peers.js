// Drives test/peers/runtime-peer.js under any runtime: ask() sends one
// command and resolves with its answer.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * Starts `command args` (which runs runtime-peer.js) and resolves once it is
 * ready; killed with SIGKILL after the test t ends if still running.
 */
export async function startRuntimePeer(t, command, args, { cwd, env, timeout = 60000 } = {}) {
  const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.on('close', resolve));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  const answers = [];
  const waiters = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (!line.startsWith('{')) return;
    const waiter = waiters.shift();
    if (waiter) waiter.resolve(JSON.parse(line));
    else answers.push(JSON.parse(line));
  });
  child.on('close', (code, signal) => {
    for (const waiter of waiters.splice(0)) waiter.reject(new Error(`${command} exited (${code ?? signal}): ${stderr}`));
  });

  /** The next answer, in order. */
  function answer(ms = timeout) {
    if (answers.length > 0) return Promise.resolve(answers.shift());
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (value) => (clearTimeout(timer), resolve(value)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1);
        reject(new Error(`no answer from ${command} within ${ms} ms; stderr: ${stderr}`));
      }, ms);
      waiters.push(waiter);
    });
  }

  /** Sends a command; its answer, or a rejection with the peer's error. */
  async function ask(request, ms = timeout) {
    child.stdin.write(`${JSON.stringify(request)}\n`);
    const reply = await answer(ms);
    if (reply.error !== undefined) throw Object.assign(new Error(`${request.op}: ${reply.error}`), { code: reply.code });
    return reply;
  }

  await answer();
  return { child, ask, answer, stderr: () => stderr };
}
