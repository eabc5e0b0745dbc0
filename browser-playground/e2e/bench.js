// The playground benchmark (prints figures, asserts only that runs succeed): guest MIPS of the
// CPU bench guest in headless Chromium (the release wasm pkg, in the page's worker) against the
// same ELF under native `rvedge run --stats`, and the time per request in the page.
//   BENCH_GUEST=<cpubench> BENCH_SCALE=0.3 node bench.js
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { startServer, launchBrowser, openPlayground, required } from './harness.js';

const guest = required('BENCH_GUEST');
const scale = process.env.BENCH_SCALE || '0.3';
const groups = (process.env.BENCH_GROUPS || 'int,mem,fp').split(',');
const requests = Number(process.env.BENCH_REQUESTS || 2000);
const site = required('PLAYGROUND_DIR');
mkdirSync(path.join(site, 'bench'), { recursive: true });
copyFileSync(guest, path.join(site, 'bench', 'cpubench'));

/** MIPS of the same run natively, as `rvedge run --stats` reports it on stderr. */
function nativeMips(group) {
  const run = spawnSync(required('RVEDGE_BIN'), ['run', '--stats', guest, group, scale], { encoding: 'utf8' });
  const match = run.stderr.match(/\(([\d.]+) MIPS\)/);
  if (run.status !== 0 || !match) throw new Error(`native cpubench ${group} failed (${run.status}): ${run.stderr}`);
  return Number(match[1]);
}

const server = await startServer();
const chromium = await launchBrowser();
try {
  const { page } = await openPlayground(chromium.context, server.url);
  console.log(`cpubench at scale ${scale}: guest MIPS in headless Chromium (wasm) vs native rvedge`);
  console.log('group   instructions     wasm MIPS   native MIPS   wasm/native');
  for (const group of groups) {
    const run = await page.evaluate(([group, scale]) => window.rvedgePlayground.bench('bench/cpubench', ['cpubench', group, scale], 1e13), [group, scale]);
    if (run.exit_status !== 0) throw new Error(`cpubench ${group} in the page: ${run.stop}\n${run.stderr}`);
    const wasmMips = run.instructions / run.millis / 1000;
    const native = nativeMips(group);
    console.log(`${group.padEnd(6)}  ${String(run.instructions).padStart(12)}  ${wasmMips.toFixed(1).padStart(12)}  ${native.toFixed(1).padStart(12)}  ${(wasmMips / native).toFixed(2).padStart(12)}`);
  }
  console.log(`time per request in the page (worker, ${requests} runs each, exchange with echo origin):`);
  for (const example of ['rewrite', 'hello', 'json-api']) {
    await page.selectOption('#example', example);
    await page.waitForFunction((name) => document.querySelector('#tenant-status').textContent.startsWith(`${name} is loaded`), example);
    const timing = await page.evaluate((count) => window.rvedgePlayground.time(count), requests);
    console.log(`  ${example.padEnd(10)} ${timing.microsPerRequest.toFixed(1).padStart(8)} µs per request`);
  }
} finally {
  await chromium.close();
  server.stop();
}
