// Bundles the worker and its tools into <repo>/dist/apps/worker/ (CommonJS, node22: engines' oldest line).
// A plain node script so `npm run build` works the same on Linux, macOS and Windows.
import { rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const appDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(appDir, '..', '..');
const outdir = join(repoRoot, 'dist', 'apps', 'worker');

const entryPoints = {
  main: join(appDir, 'src', 'main.ts'),
  produce: join(appDir, 'src', 'tools', 'produce.ts'),
  probe: join(appDir, 'src', 'tools', 'probe.ts'),
  // The prod-like worker: a cluster primary and the entry of each worker process it forks.
  cluster: join(appDir, 'src', 'cluster.ts'),
  clusterWorker: join(appDir, 'src', 'clusterWorker.ts'),
  loadgen: join(appDir, 'src', 'tools', 'loadgen.ts'),
};

rmSync(outdir, { recursive: true, force: true });

const result = await build({
  entryPoints,
  outdir,
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'warning',
  metafile: true,
  // Optional modules that are only require()d when present (each caller falls
  // back when they are missing), so the bundle needs no node_modules:
  //   pg-native: node-postgres' libpq binding (only with `require('pg').native`)
  //   msgpackr-extract: msgpackr's native accelerator
  //   @valkey/valkey-glide: a BullMQ client we do not use
  external: ['pg-native', 'msgpackr-extract', '@valkey/valkey-glide'],
});

for (const [file, info] of Object.entries(result.metafile.outputs)) {
  if (file.endsWith('.js')) {
    console.log(`built ${relative(repoRoot, file).split('\\').join('/')} (${Math.round(info.bytes / 1024)} KiB)`);
  }
}
