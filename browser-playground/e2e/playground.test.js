// End-to-end: the playground served by `rvedge playground`, in headless Chromium. Screenshots
// go to $ARTIFACTS_DIR.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { startServer, launchBrowser, openPlayground, required } from './harness.js';

const artifacts = required('ARTIFACTS_DIR');
mkdirSync(artifacts, { recursive: true });
let server;
let chromium;
let page;
let problems;

before(async () => {
  server = await startServer();
  chromium = await launchBrowser();
  ({ page, problems } = await openPlayground(chromium.context, server.url));
});

after(async () => {
  await chromium?.close();
  server?.stop();
});

const shot = (name) => page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
const text = (selector) => page.locator(selector).innerText();

async function pick(example) {
  await page.selectOption('#example', example);
  await page.waitForFunction((name) => document.querySelector('#tenant-status').textContent.startsWith(`${name} is loaded`), example);
}

async function runAndWait() {
  const before = await page.evaluate(() => window.__runs = (window.__runs || 0) + 1);
  await page.evaluate((marker) => { document.querySelector('#response-status').dataset.marker = marker; }, String(before));
  await page.click('#run');
  await page.waitForFunction(() => document.querySelector('#worker-state').textContent === 'ready'
    && document.querySelector('#response-status').textContent !== '—', null, { timeout: 60_000 });
}

test('the page loads every bundled example into the picker', async () => {
  const options = await page.locator('#example option').allTextContents();
  for (const name of ['hello', 'hello-rust', 'rewrite', 'router', 'json-api', 'xml', 'hmac-token', 'loop']) {
    assert.ok(options.some((option) => option.startsWith(name)), `${name} in ${options}`);
  }
  assert.match(await text('#tenant-status'), /^hello is loaded/);
});

test('an example runs and shows its response, the request diff and the stats', async () => {
  await pick('hello');
  await page.fill('#url', '/greeting');
  await runAndWait();
  assert.equal(await text('#response-status'), 'HTTP 200');
  assert.match(await text('#response-body'), /"message": "Hello from RISC-V!"/);
  assert.match(await text('#response-source'), /forged, cached 120s/);
  assert.match(await text('#changes'), /x-hello\s+url=\/greeting/);
  assert.match(await text('#stats'), /instructions/);
  await shot('01-hello');

  await pick('rewrite');
  await runAndWait();
  const changes = await text('#changes');
  assert.match(changes, /url\s+\/old\/page\?q=1\s+\/new\/page\?q=1/);
  assert.match(changes, /REMOVED\s+x-internal\s+secret/i);
  assert.match(await text('#response-body'), /"url": "\/new\/page\?q=1"/);
  assert.match(await text('#response-headers'), /X-Served-By\s+rvedge/);

  await pick('xml');
  await runAndWait();
  assert.match(await text('#response-body'), /"customer": "Ada & Co"/);
  await shot('02-rewrite-xml');
});

test('an uploaded ELF is loaded and runs', async () => {
  // The page names an uploaded tenant after its file, without an extension.
  const uploaded = path.basename(required('UPLOAD_ELF')).replace(/\.[^.]*$/, '');
  await page.setInputFiles('#upload', required('UPLOAD_ELF'));
  // The previous example's status also says "is loaded": wait for the uploaded file's name.
  await page.waitForFunction(
    (name) => document.querySelector('#tenant-status').textContent.startsWith(`${name} is loaded`),
    uploaded,
  );
  assert.match(await text('#example-description'), /^Uploaded /);
  await page.fill('#url', '/r');
  await page.fill('#headers', '');
  await page.selectOption('#method', 'GET');
  await page.fill('#body', '');
  await runAndWait();
  assert.equal(await text('#response-status'), 'HTTP 200');
  assert.equal(await text('#response-body'), '<p>hello from Rust 2</p>');
  await shot('03-upload');
});

test('a looping tenant times out with an explanation while the page stays responsive', async () => {
  await pick('loop');
  // A large budget, so the run lasts long enough to use the page meanwhile.
  await page.fill('#max-instructions', '400000000');
  await page.click('#load');
  await page.waitForFunction(() => /^loop is loaded/.test(document.querySelector('#tenant-status').textContent));
  await page.click('#run');
  await page.waitForFunction(() => document.querySelector('#worker-state').textContent === 'running…');
  // The main thread answers and handles input while the worker runs the tenant.
  const started = Date.now();
  await page.fill('#body', 'typed while the tenant loops');
  const stillRunning = await page.evaluate(() => document.querySelector('#worker-state').textContent);
  const inputMillis = Date.now() - started;
  assert.equal(stillRunning, 'running…', 'the input was handled during the run');
  assert.ok(inputMillis < 2000, `typing took ${inputMillis} ms`);
  await page.waitForFunction(() => !document.querySelector('#error').hidden, null, { timeout: 120_000 });
  const error = await text('#error');
  assert.match(error, /Timeout: the tenant used up its instruction budget \(max_instructions\)/);
  assert.match(error, /timeout in on_recv/);
  assert.equal(await text('#response-status'), 'HTTP 503');
  assert.equal(await page.inputValue('#body'), 'typed while the tenant loops');
  await shot('04-loop-timeout');
});

test('Stop terminates a long run and the restarted worker serves the next request', async () => {
  await page.fill('#max-instructions', '100000000000');
  await page.click('#load');
  await page.waitForFunction(() => /^loop is loaded/.test(document.querySelector('#tenant-status').textContent));
  await page.click('#run');
  await page.waitForFunction(() => document.querySelector('#worker-state').textContent === 'running…');
  await page.click('#stop');
  await page.waitForFunction(() => /Stopped: the emulator was terminated/.test(document.querySelector('#error').textContent));
  await page.waitForFunction(() => /^loop is loaded/.test(document.querySelector('#tenant-status').textContent));
  await pick('hello');
  await runAndWait();
  assert.equal(await text('#response-status'), 'HTTP 200');
});

test('the debugger steps on_recv and stops at a breakpoint', async () => {
  await pick('rewrite');
  await page.click('#debug');
  await page.waitForSelector('#debugger-panel:not([hidden])');
  const firstPc = await text('#dbg-pc');
  assert.match(firstPc, /^0x[0-9a-f]+$/);
  assert.match(await text('#disassembly li.current'), new RegExp(firstPc));
  assert.match(await text('#registers'), /x2 sp\s+0x[0-9a-f]{16}/);
  const registersBefore = await text('#registers');

  await page.click('#dbg-step');
  await page.waitForFunction((pc) => document.querySelector('#dbg-pc').textContent !== pc, firstPc);
  const secondPc = await text('#dbg-pc');
  assert.notEqual(secondPc, firstPc);
  assert.match(await text('#dbg-status'), /on_recv · 1 instructions/);
  assert.notEqual(await text('#registers'), registersBefore, 'a register changed');

  // Click the address four lines below pc to set a breakpoint there, then continue to it.
  const lines = page.locator('#disassembly li');
  const currentIndex = await lines.evaluateAll((items) => items.findIndex((item) => item.classList.contains('current')));
  const target = lines.nth(currentIndex + 4).locator('.address');
  const targetPc = await target.innerText();
  await target.click();
  assert.equal(await page.inputValue('#dbg-breakpoint'), targetPc);
  await page.click('#dbg-continue');
  await page.waitForFunction(() => /stopped at breakpoint|returned|failed/.test(document.querySelector('#dbg-status').textContent));
  assert.match(await text('#dbg-status'), /stopped at breakpoint/);
  assert.equal(await text('#dbg-pc'), targetPc);
  await shot('05-debugger');

  // Continue to the end: the hook returns and its changes are visible in the log/state.
  await page.fill('#dbg-breakpoint', '');
  await page.click('#dbg-continue');
  await page.waitForFunction(() => /returned|failed/.test(document.querySelector('#dbg-status').textContent));
  assert.match(await text('#dbg-status'), /returned/);
  assert.equal(await text('#dbg-pc'), 'returned');
  assert.match(await text('#changes'), /url\s+\/old\/page\?q=1\s+\/new\/page\?q=1/);  await shot('06-debugger-returned');
});

test('no page errors were logged', () => {
  assert.deepEqual(problems, []);
});
