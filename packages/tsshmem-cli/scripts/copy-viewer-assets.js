// Copies the viewer's page (HTML, JS, CSS: not compiled by tsc) from
// src/cli/viewer/page/ to dist/cli/viewer/page/, where the server reads it.
import { cpSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = fileURLToPath(new URL('../src/cli/viewer/page/', import.meta.url));
const target = fileURLToPath(new URL('../dist/cli/viewer/page/', import.meta.url));

rmSync(target, { recursive: true, force: true });
cpSync(source, target, { recursive: true });
