/** How long-running commands (view, watch) are stopped from outside: SIGINT (Ctrl-C) or SIGTERM. */

const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

/** Calls stop on SIGINT or SIGTERM until the returned function is called. */
export function onStopSignal(stop: () => void): () => void {
  for (const signal of STOP_SIGNALS) process.on(signal, stop);
  return () => {
    for (const signal of STOP_SIGNALS) process.off(signal, stop);
  };
}

/** Resolves on the first SIGINT or SIGTERM; a second one ends the process the default way. */
export function nextStopSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stopListening = onStopSignal(() => {
      stopListening();
      resolve();
    });
  });
}
