// End-to-end: the playground IDE served by `rvedge playground` (static files and the build
// endpoint, which runs the real cross compilers), in headless Chromium. Screenshots go to
// $ARTIFACTS_DIR.
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

const shot = (name, target = page) => target.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
const text = (selector, target = page) => target.locator(selector).innerText();

async function pick(example) {
  await page.selectOption('#example', example);
  await page.waitForFunction((name) => document.querySelector('#tenant-status').textContent.startsWith(`${name} is loaded`), example);
}

async function openLimits() {
  await page.evaluate(() => { document.querySelector('details.limits-box').open = true; });
}

/** Clicks Build & Run and waits until a response (or a failed build) is shown. */
async function runAndWait(target = page) {
  await target.evaluate(() => { document.querySelector('#response-status').textContent = '—'; });
  await target.click('#run');
  await target.waitForFunction(() => document.querySelector('#worker-state').textContent === 'ready'
    && (document.querySelector('#response-status').textContent !== '—'
      || !document.querySelector('#diagnostics').hidden), null, { timeout: 120_000 });
}

/** Replaces the editor's text as a person would: select all, then type (insert) the new text. */
async function typeSource(source) {
  await page.click('#editor .cm-content');
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(source);
  const shown = await page.evaluate(() => document.querySelector('#editor .cm-content').innerText);
  assert.equal(shown.trimEnd(), source.trimEnd());
}

/** An example's source as the page bundles it. */
async function exampleSource(name) {
  const index = await page.evaluate(() => fetch('tenants/index.json').then((response) => response.json()));
  return index.find((example) => example.name === name).source;
}

/** The line of the editor holding `fragment` (1-based). */
function lineOf(source, fragment) {
  const index = source.split('\n').findIndex((line) => line.includes(fragment));
  assert.ok(index >= 0, `${fragment} in the source`);
  return index + 1;
}

test('the page loads every bundled example, with its source in the editor', async () => {
  const options = await page.locator('#example option').allTextContents();
  for (const name of ['hello', 'hello-rust', 'rewrite', 'router', 'json-api', 'xml', 'hmac-token', 'loop']) {
    assert.ok(options.some((option) => option.startsWith(name)), `${name} in ${options}`);
  }
  assert.match(await text('#tenant-status'), /^hello is loaded.*Source-level debugging is available/);
  assert.match(await text('#editor .cm-content'), /json\["message"\] = "Hello from RISC-V!";/);
  // C++ is highlighted: keywords and strings get their own spans.
  assert.ok(await page.locator('#editor .cm-line span').count() > 10, 'highlighted tokens');
  assert.equal(await text('#language'), 'C++');
  await shot('01-editor');
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

  await pick('rewrite');
  await runAndWait();
  const changes = await text('#changes');
  assert.match(changes, /url\s+\/old\/page\?q=1\s+\/new\/page\?q=1/);
  assert.match(changes, /REMOVED\s+x-internal\s+secret/i);
  assert.match(await text('#response-body'), /"url": "\/new\/page\?q=1"/);

  await pick('xml');
  await runAndWait();
  assert.match(await text('#response-body'), /"customer": "Ada & Co"/);
});

const SEED_MESSAGE = 'json["message"] = "Hello from RISC-V!";';

test('an edited C++ seed is built by the server and runs with the new body', async () => {
  await pick('hello');
  const seed = await exampleSource('hello');
  const edited = seed.replace(SEED_MESSAGE, 'json["message"] = "Edited in the browser";');
  assert.notEqual(edited, seed);
  await typeSource(edited);
  await runAndWait();
  assert.match(await text('#build-status'), /^Built tenant\.cpp: \d+ KiB with debug information/);
  assert.equal(await text('#response-status'), 'HTTP 200');
  assert.match(await text('#response-body'), /"message": "Edited in the browser"/);
  await shot('02-edited-run');
});

test('a syntax error is shown by the compiler at its line, and nothing runs', async () => {
  await pick('hello');
  const seed = await exampleSource('hello');
  const broken = seed.replace(SEED_MESSAGE, `${SEED_MESSAGE}\n        int oops = ;`);
  await typeSource(broken);
  await runAndWait();
  const errorLine = lineOf(broken, 'int oops');
  const diagnostics = await text('#diagnostics');
  assert.match(diagnostics, new RegExp(`tenant\\.cpp:${errorLine}:\\d+ error: expected primary-expression`));
  assert.match(await text('#build-status'), /error\(s\): the source did not compile/);
  assert.equal(await text('#response-status'), '—');
  // The editor marks the error on that line.
  const marked = page.locator('#editor .cm-line', { has: page.locator('.cm-lintRange-error') });
  assert.ok(await marked.count() >= 1, 'an error range in the editor');
  assert.match(await marked.first().innerText(), /int oops = ;/);
  await page.locator('#editor .cm-lintRange-error').first().hover();
  await page.waitForSelector('.cm-tooltip-lint', { timeout: 5_000 });
  await shot('03-diagnostic');
});

test('a breakpoint on a line of the forge callback stops there, and a step shows a local', async () => {
  await pick('hello');
  const seed = await exampleSource('hello');
  const source = seed.replace(SEED_MESSAGE, `int answer = 6 * 7;\n        ${SEED_MESSAGE}\n        json["answer"] = answer;`);
  await typeSource(source);
  const line = lineOf(source, 'int answer');
  await page.locator('#editor .cm-lineNumbers .cm-gutterElement', { hasText: new RegExp(`^${line}$`) }).click();
  await page.waitForSelector('#editor .cm-breakpoint-dot');

  await page.click('#debug');
  await page.waitForSelector('#debugger-panel:not([hidden])', { timeout: 120_000 });
  await page.waitForFunction(() => /stopped before the first hook/.test(document.querySelector('#dbg-status').textContent));
  assert.match(await text('#dbg-status'), /^on_recv \(client fork\)/);
  assert.match(await text('#hooks'), /on_recv · client · running/);

  await page.click('#dbg-continue');
  await page.waitForFunction(() => /breakpoint|ended/.test(document.querySelector('#dbg-status').textContent));
  const status = await text('#dbg-status');
  assert.match(status, new RegExp(`^forge callback \\(backend fork\\) · tenant\\.cpp:${line} · .* stopped at a breakpoint`));
  assert.match(await text('#hooks'), /on_recv · client · returned[\s\S]*forge callback · backend · running/);
  assert.match(await text('#editor .cm-debug-current'), /int answer = 6 \* 7;/);
  assert.match(await text('#frames li:first-child'), /operator\(\)/);
  assert.match(await text('#frames'), /forge_entry/);
  assert.match(await text('#dbg-request'), /req\s+GET \/index\.html[\s\S]*x-hello\s+url=\/index\.html[\s\S]*bereq/i);
  assert.match(await text('#disassembly'), /<.*operator\(\).*>:|<.*_FUN.*>/);

  await page.click('#dbg-over');
  await page.waitForFunction((stopped) => !document.querySelector('#dbg-status').textContent.includes(stopped), `tenant.cpp:${line} `);
  assert.match(await text('#dbg-status'), new RegExp(`tenant\\.cpp:${line + 1} · .* stepped`));
  assert.match(await text('#locals'), /answer\s+42\s+int/);
  assert.match(await text('#editor .cm-debug-current'), /json\["message"\]/);
  await shot('04-source-stop');

  // Continue to the end: the forged response is the page's response.
  await page.click('#editor .cm-breakpoint-dot');
  await page.locator('#editor .cm-lineNumbers .cm-gutterElement', { hasText: new RegExp(`^${line}$`) }).click();
  await page.waitForFunction(() => !document.querySelector('#editor .cm-breakpoint-dot'));
  await page.click('#dbg-continue');
  await page.waitForFunction(() => /the exchange ended/.test(document.querySelector('#dbg-status').textContent));
  assert.equal(await text('#response-status'), 'HTTP 200');
  assert.match(await text('#response-body'), /"answer": 42/);
});

test('the share link reproduces the run in a fresh page', async () => {
  await pick('rewrite');
  await page.fill('#url', '/old/shared?x=1');
  await page.fill('#headers', 'X-Internal: secret\nX-Shared: yes');
  await openLimits();
  await page.fill('#max-instructions', '4000000');
  await runAndWait();
  const body = await text('#response-body');
  assert.match(body, /"url": "\/new\/shared\?x=1"/);
  await page.click('#share');
  await page.waitForSelector('#share-box:not([hidden])');
  const link = await page.inputValue('#share-url');
  assert.match(link, /#s=[A-Za-z0-9_-]+$/);

  const fresh = await chromium.context.newPage();
  const freshProblems = [];
  fresh.on('pageerror', (error) => freshProblems.push(String(error)));
  await fresh.goto(link);
  await fresh.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
  assert.equal(await text('#response-status', fresh), 'HTTP 200');
  assert.equal(await text('#response-body', fresh), body);
  assert.equal(await fresh.inputValue('#url'), '/old/shared?x=1');
  assert.equal(await fresh.inputValue('#max-instructions'), '4000000');
  assert.equal(await text('#editor .cm-content', fresh), await text('#editor .cm-content'));
  await shot('05-shared-link', fresh);
  await fresh.close();
  assert.deepEqual(freshProblems, []);
});

test('the profile counts the run\'s instructions by function', async () => {
  await pick('router');
  await runAndWait();
  const ran = Number((await text('#stats')).match(/^([\d,]+) instructions/)[1].replace(/,/g, ''));
  await page.click('#profile-run');
  await page.waitForSelector('#profile-panel:not([hidden])', { timeout: 60_000 });
  const summary = await text('#profile-summary');
  assert.match(summary, /instructions by function · response 200/);
  assert.equal(Number(summary.match(/^([\d,]+) instructions/)[1].replace(/,/g, '')), ran);
  const rows = await page.locator('#profile tr').allInnerTexts();
  assert.ok(rows.length >= 5, rows.join('\n'));
  assert.ok(rows.some((line) => /on_recv/.test(line)), rows.join('\n'));
  await shot('07-profile');
});

test('an uploaded ELF is loaded and runs', async () => {
  // The page names an uploaded tenant after its file, without an extension.
  const uploaded = path.basename(required('UPLOAD_ELF')).replace(/\.[^.]*$/, '');
  await page.setInputFiles('#upload', required('UPLOAD_ELF'));
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
});

test('every hook steps in exchange order, with symbol names in the disassembly', async () => {
  await pick('rewrite');
  await page.click('#debug');
  await page.waitForSelector('#debugger-panel:not([hidden])');
  await page.waitForFunction(() => /stopped before the first hook/.test(document.querySelector('#dbg-status').textContent));
  const firstPc = await text('#dbg-pc');
  assert.match(firstPc, /^0x[0-9a-f]+$/);
  assert.match(await text('#dbg-symbol'), /^<on_recv\+0x0>$/);
  assert.match(await text('#disassembly'), /<on_recv>:/);
  assert.match(await text('#registers'), /x2 sp\s+0x[0-9a-f]{16}/);

  await page.click('#dbg-step');
  await page.waitForFunction((pc) => document.querySelector('#dbg-pc').textContent !== pc, firstPc);
  assert.match(await text('#dbg-status'), /on_recv \(client fork\) · .*1 instructions · stepped/);

  // Click the address four lines below pc for a breakpoint, then continue to it.
  const lines = page.locator('#disassembly li:not(.label)');
  const currentIndex = await lines.evaluateAll((items) => items.findIndex((item) => item.classList.contains('current')));
  const target = lines.nth(currentIndex + 4).locator('.address');
  const targetPc = await target.innerText();
  await target.click();
  assert.equal(await page.inputValue('#dbg-breakpoint'), targetPc);
  await page.click('#dbg-continue');
  await page.waitForFunction(() => /breakpoint|ended/.test(document.querySelector('#dbg-status').textContent));
  assert.equal(await text('#dbg-pc'), targetPc);

  // Hook by hook: on_recv ends, on_deliver is entered with the rewritten request.
  await page.fill('#dbg-breakpoint', '');
  await page.click('#dbg-hook');
  await page.waitForFunction(() => /on_deliver/.test(document.querySelector('#dbg-status').textContent));
  assert.match(await text('#hooks'), /on_recv · client · returned[\s\S]*on_deliver · client · running/);
  assert.match(await text('#dbg-request'), /bereq\s+GET \/new\/page\?q=1/);
  assert.match(await text('#dbg-request'), /beresp \(origin\)\s+HTTP 200/);
  await shot('06-hooks');
  await page.click('#dbg-continue');
  await page.waitForFunction(() => /the exchange ended/.test(document.querySelector('#dbg-status').textContent));
  assert.equal(await text('#dbg-pc'), 'ended');
  assert.match(await text('#changes'), /url\s+\/old\/page\?q=1\s+\/new\/page\?q=1/);
  assert.equal(await text('#response-status'), 'HTTP 200');
});

test('a looping tenant times out with an explanation while the page stays responsive', async () => {
  await pick('loop');
  // A large budget, so the run lasts long enough to use the page meanwhile.
  await openLimits();
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
});

test('Stop terminates a long run and the restarted worker serves the next request', async () => {
  await openLimits();
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

test('no page errors were logged', () => {
  // Chromium logs every 4xx response; the build endpoint answers a rejected source with 422.
  const unexpected = problems.filter((problem) => !/status of 422 \(Unprocessable Entity\)/.test(problem));
  assert.deepEqual(unexpected, []);
});
