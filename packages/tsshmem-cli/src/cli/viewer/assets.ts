/**
 * The files the viewer serves, read into memory once: the page (copied next
 * to this module by scripts/copy-viewer-assets.js) and uPlot from node_modules.
 * Only these paths are served, so no request can reach another file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** URL path -> file. The page's index.html is also `/`. */
export function loadAssets(): ReadonlyMap<string, Asset> {
  const pageDirectory = fileURLToPath(new URL('./page/', import.meta.url));
  const files = new Map<string, string>(readdirSync(pageDirectory).map((file) => [`/${file}`, join(pageDirectory, file)]));
  files.set('/', join(pageDirectory, 'index.html'));
  const require = createRequire(import.meta.url);
  files.set('/uplot/uPlot.iife.min.js', require.resolve('uplot/dist/uPlot.iife.min.js'));
  files.set('/uplot/uPlot.min.css', require.resolve('uplot/dist/uPlot.min.css'));
  const assets = new Map<string, Asset>();
  for (const [path, file] of files) {
    const contentType = CONTENT_TYPES[extname(file)];
    if (contentType !== undefined) assets.set(path, { body: readFileSync(file), contentType });
  }
  return assets;
}
