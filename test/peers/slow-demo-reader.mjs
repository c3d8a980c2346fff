// Loaded with NODE_OPTIONS=--import: delays the start of `tsshmem demo`'s
// reader process only (the command and its writer start as usual), as a
// loaded machine might. --import modules finish, top-level await included,
// before the entry point runs.
import { setTimeout as delay } from 'node:timers/promises';

const READER_START_DELAY_MS = 1000;

if (process.argv[1]?.endsWith('/demo/reader.js')) await delay(READER_START_DELAY_MS);
