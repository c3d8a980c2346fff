#!/usr/bin/env node
// The tsshmem command. A committed file rather than dist/cli/main.js itself,
// so that npm links it even before the TypeScript is compiled (a fresh clone).
import '../dist/cli/main.js';
