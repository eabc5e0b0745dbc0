// The page: the source editor, the build endpoint of `rvedge playground`, the request and the
// response, and the debugger. All emulator work goes to worker.js; this module only builds,
// renders and remembers what is loaded.
import { createEditor } from './editor.js';

const $ = (id) => document.getElementById(id);

// The file each language's source is built as (and named by in diagnostics and DWARF).
const SOURCE_FILES = { c: 'tenant.c', cpp: 'tenant.cpp', rust: 'src/main.rs' };
const LANGUAGE_NAMES = { c: 'C', cpp: 'C++', rust: 'Rust' };

let worker = null;
let nextId = 1;
const pending = new Map();
let examples = [];
let editor = null;
// What the worker has loaded: the program, its limits, and the source it was built from
// (`builtFrom`, compared with the editor's text before Run).
let current = { name: null, elf: null, limits: null, builtFrom: null };

function startWorker() {
  worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  worker.onmessage = ({ data }) => {
    const waiter = pending.get(data.id);
    if (!waiter) return;
    pending.delete(data.id);
    data.ok ? waiter.resolve(data.result) : waiter.reject(new Error(data.error));
    if (pending.size === 0) setWorkerState('ready', 'ready');
  };
  worker.onerror = (event) => {
    showError('The emulator worker failed', event.message || 'unknown error');
    setWorkerState('stopped', 'failed');
  };
}

function call(type, message = {}, transfer = []) {
  const id = nextId++;
  setWorkerState('busy', 'running…');
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, type, ...message }, transfer);
  });
}

function setWorkerState(kind, text) {
  const state = $('worker-state');
  state.className = `state ${kind}`;
  state.textContent = text;
}

// Stop: the only way to interrupt wasm running in a worker is to end the worker.
async function stopWorker() {
  worker.terminate();
  for (const waiter of pending.values()) waiter.reject(new Error('Stopped: the emulator was terminated and restarted.'));
  pending.clear();
  setWorkerState('stopped', 'stopped');
  endDebugging();
  startWorker();
  if (current.elf) await loadTenant();
  else setWorkerState('ready', 'ready');
}

// ---- Limits and request ----------------------------------------------------------------

function limitsFromForm() {
  const limits = {};
  const number = $('max-instructions').value.trim();
  if (number) limits.max_instructions = Number(number);
  for (const [id, key] of [['max-memory', 'max_memory'], ['max-request-memory', 'max_request_memory'], ['stack-size', 'stack_size']]) {
    const value = $(id).value.trim();
    if (value) limits[key] = value;
  }
  return limits;
}

function fillLimits(limits = {}) {
  $('max-instructions').value = limits.max_instructions ?? '';
  $('max-memory').value = limits.max_memory ?? '';
  $('max-request-memory').value = limits.max_request_memory ?? '';
  $('stack-size').value = limits.stack_size ?? '';
}

function fillRequest(request = {}) {
  $('method').value = request.method || 'GET';
  $('url').value = request.url || '/';
  $('headers').value = (request.headers || []).map(([name, value]) => `${name}: ${value}`).join('\n');
  $('body').value = request.body || '';
}

function requestFromForm() {
  const headers = [];
  for (const line of $('headers').value.split('\n')) {
    if (!line.trim()) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`Header line "${line}" has no "Name: value" form.`);
    headers.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
  }
  return { method: $('method').value, url: $('url').value || '/', headers, body: $('body').value };
}

// ---- Source, build and load ------------------------------------------------------------

const sourceKey = () => `${editor.language()}\n${editor.text()}`;
const sourceFile = () => SOURCE_FILES[editor.language()] || 'tenant.cpp';

function showLanguage(language) {
  $('language').textContent = LANGUAGE_NAMES[language] || '—';
  $('file-name').textContent = SOURCE_FILES[language] || '';
}

function clearBuildMessages() {
  editor.setDiagnostics([]);
  $('diagnostics').hidden = true;
  $('diagnostics').replaceChildren();
  $('build-output').hidden = true;
  $('build-status').textContent = '';
  $('build-status').className = 'build-status';
}

function showDiagnostics(result) {
  const diagnostics = result.diagnostics || [];
  editor.setDiagnostics(diagnostics);
  const list = $('diagnostics');
  list.replaceChildren();
  for (const diagnostic of diagnostics) {
    const item = document.createElement('li');
    item.className = diagnostic.severity;
    const where = document.createElement('button');
    where.className = 'where';
    where.textContent = `${result.file}:${diagnostic.line}${diagnostic.column ? `:${diagnostic.column}` : ''}`;
    where.onclick = () => editor.goToLine(diagnostic.line);
    const text = document.createElement('span');
    text.textContent = ` ${diagnostic.severity}: ${diagnostic.message}`;
    item.append(where, text);
    list.append(item);
  }
  list.hidden = diagnostics.length === 0;
  $('build-output').textContent = result.output || result.message || '';
  $('build-output').hidden = !$('build-output').textContent;
  const errors = diagnostics.filter((diagnostic) => diagnostic.severity === 'error').length;
  $('build-status').textContent = errors ? `${errors} error(s): the source did not compile.` : (result.message || 'The build failed.');
  $('build-status').className = 'build-status bad';
}

/** Builds the editor's source unless the loaded program was built from it; true when a
 * program for it is loaded. */
async function buildIfNeeded() {
  const key = sourceKey();
  if (current.elf && current.builtFrom === key) return true;
  clearBuildMessages();
  $('build-status').textContent = `Building ${sourceFile()}…`;
  setWorkerState('busy', 'building…');
  const started = performance.now();
  let response;
  try {
    response = await fetch('build', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ language: editor.language(), source: editor.text(), debug: true }),
    });
  } catch (error) {
    setWorkerState('ready', 'ready');
    showError('Could not reach the build endpoint', `${error.message}. Serve the page with \`rvedge playground\` to build sources.`);
    return false;
  }
  setWorkerState('ready', 'ready');
  if (!response.ok) {
    const text = await response.text();
    let result;
    try { result = JSON.parse(text); } catch { result = { message: text.trim() || response.statusText }; }
    if (response.status === 422) {
      showDiagnostics(result);
      showError('The source did not compile', 'See the diagnostics under the editor.');
    } else {
      $('build-status').textContent = result.message || `build failed: HTTP ${response.status}`;
      $('build-status').className = 'build-status bad';
      showError(`The build failed (HTTP ${response.status})`, result.message || '');
    }
    return false;
  }
  const elf = await response.arrayBuffer();
  const name = current.name && !current.uploaded ? current.name : 'tenant';
  current = { name, elf, limits: null, builtFrom: key };
  $('build-status').textContent = `Built ${sourceFile()}: ${(elf.byteLength / 1024).toFixed(0)} KiB with debug information in ${((performance.now() - started) / 1000).toFixed(1)} s.`;
  $('build-status').className = 'build-status ok';
  return loadTenant();
}

async function loadTenant() {
  current.limits = JSON.stringify(limitsFromForm());
  $('tenant-status').textContent = `Loading ${current.name}…`;
  try {
    const info = await call('load', { name: current.name, elf: current.elf.slice(0), limits: current.limits });
    const boot = info.bootLog.length ? ` It logged ${info.bootLog.length} line(s) while starting.` : '';
    const source = info.sourceInfo.has_lines ? ' Source-level debugging is available.' : ' It has no line information (no source-level debugging).';
    $('tenant-status').textContent = `${info.name} is loaded: main() ran to wait_for_requests in ${info.loadMillis.toFixed(1)} ms.${boot}${source}`;
    $('tenant-status').className = 'hint ok';
    $('log').textContent = info.bootLog.join('\n');
    return true;
  } catch (error) {
    $('tenant-status').textContent = `Could not load ${current.name}: ${error.message}`;
    $('tenant-status').className = 'hint bad';
    showError(`Could not load ${current.name}`, error.message);
    return false;
  }
}

/** The program for the editor's source, with the form's limits, loaded in the worker. */
async function prepare() {
  $('error').hidden = true;
  if (!(await buildIfNeeded())) return false;
  if (current.limits !== JSON.stringify(limitsFromForm())) return loadTenant();
  return true;
}

async function pickExample(name, { load = true } = {}) {
  const example = examples.find((entry) => entry.name === name);
  if (!example) return;
  $('example').value = name;
  $('example-description').textContent = example.description;
  fillLimits(example.limits);
  fillRequest(example.request);
  editor.setText(example.source || '// This example has no source in the playground.\n', example.language || 'c');
  showLanguage(example.language);
  clearBuildMessages();
  clearResponse('');
  endDebugging();
  if (!load) return;
  const response = await fetch(`tenants/${example.file}`);
  current = { name: example.name, elf: await response.arrayBuffer(), limits: null, builtFrom: sourceKey() };
  $('upload').value = '';
  await loadTenant();
}

async function uploadElf(file) {
  current = {
    name: file.name.replace(/\.[^.]*$/, '') || 'upload',
    elf: await file.arrayBuffer(),
    limits: null,
    // Run keeps the upload until the source is edited.
    builtFrom: sourceKey(),
    uploaded: true,
  };
  $('example').value = '';
  clearResponse('');
  clearBuildMessages();
  $('example-description').textContent = `Uploaded ${file.name} (${file.size} bytes): Run uses it until you edit the source.`;
  endDebugging();
  await loadTenant();
}

// ---- Response ----------------------------------------------------------------------------

function showError(title, text) {
  const box = $('error');
  box.hidden = false;
  box.replaceChildren();
  const strong = document.createElement('strong');
  strong.textContent = title;
  const detail = document.createElement('p');
  detail.textContent = text;
  box.append(strong, detail);
}

function prettyBody(body, contentType) {
  try {
    if (/json/i.test(contentType)) return JSON.stringify(JSON.parse(body), null, 2);
    if (/xml/i.test(contentType)) return indentXml(body);
  } catch {
    // Not what the content type says: show it as text.
  }
  return body;
}

function indentXml(text) {
  let depth = 0;
  return text.replace(/>\s*</g, '>\n<').split('\n').map((line) => {
    if (/^<\//.test(line)) depth = Math.max(depth - 1, 0);
    const indented = '  '.repeat(depth) + line;
    if (/^<[^!?/][^>]*[^/]>$/.test(line) && !/<\//.test(line)) depth++;
    return indented;
  }).join('\n');
}

function row(table, cells, className) {
  const tr = table.insertRow();
  if (className) tr.className = className;
  for (const cell of cells) {
    const td = tr.insertCell();
    td.textContent = cell ?? '';
  }
  return tr;
}

function showResponse({ status, headers, body }) {
  const statusLine = $('response-status');
  statusLine.textContent = `HTTP ${status}`;
  statusLine.className = `status s${String(status)[0]}`;
  const table = $('response-headers');
  table.replaceChildren();
  for (const [name, value] of headers) row(table, [name, value]);
  const contentType = (headers.find(([name]) => name.toLowerCase() === 'content-type') || [])[1] || '';
  $('response-body').textContent = prettyBody(body, contentType);
}

function renderReport(report) {
  $('error').hidden = true;
  if (report.error) {
    showError(report.error.explanation, `${report.error.kind} in ${report.error.during}: ${report.error.detail}`);
  }
  showResponse(report);
  const source = report.source;
  $('response-source').textContent = {
    synthesized: 'answered by on_recv',
    forged: source.cached ? `forged, cached ${source.ttl_seconds}s` : 'forged, not cached',
    backend: `origin: backend "${source.name}"`,
    error: 'tenant error',
  }[source.kind];
  $('stats').textContent = `${report.instructions.toLocaleString('en')} instructions · ${report.forks} fork(s) · ${report.pages_written} page(s) written · ${report.pageMillis.toFixed(2)} ms`;
  renderChanges(report.changes);
  $('log').textContent = report.log.length ? report.log.join('\n') : '(nothing logged)';
}

function renderChanges(changes) {
  const table = $('changes');
  table.replaceChildren();
  if (!changes.length) {
    row(table, ['The tenant changed nothing in the request.'], 'none');
    return;
  }
  for (const change of changes) {
    const what = change.field === 'header' ? change.name : change.field;
    const kind = change.before == null ? 'added' : change.after == null ? 'removed' : 'changed';
    row(table, [kind, what, change.before ?? '', change.after ?? ''], kind);
  }
}

// The response panel belongs to Run; while debugging it says so instead of showing a stale one.
function clearResponse(message) {
  $('error').hidden = true;
  $('response-status').textContent = '—';
  $('response-status').className = 'status';
  $('response-source').textContent = '';
  $('stats').textContent = message;
  $('response-headers').replaceChildren();
  $('response-body').textContent = '';
}

async function runRequest() {
  let request;
  try { request = requestFromForm(); } catch (error) { showError('Bad request', error.message); return; }
  endDebugging();
  if (!(await prepare())) {
    clearResponse('Not run: see the build.');
    $('error').hidden = false;
    return;
  }
  try {
    renderReport(await call('run', { request }));
  } catch (error) {
    showError('The request did not run', error.message);
  }
}

/** Most instructions a profile steps through (stepping is slower than running). */
const PROFILE_MAX_STEPS = 50_000_000;

async function profileRequest() {
  let request;
  try { request = requestFromForm(); } catch (error) { showError('Bad request', error.message); return; }
  if (!(await prepare())) return;
  try {
    renderProfile(await call('profile', { request, maxSteps: PROFILE_MAX_STEPS }));
  } catch (error) {
    showError('The profile did not run', error.message);
  }
}

function renderProfile(profile) {
  $('profile-panel').hidden = false;
  const ended = profile.complete ? `response ${profile.status}` : `stopped after ${PROFILE_MAX_STEPS.toLocaleString('en')} steps`;
  $('profile-summary').textContent = `${profile.instructions.toLocaleString('en')} instructions by function · ${ended} · ${profile.millis.toFixed(0)} ms stepped`;
  const table = $('profile');
  table.replaceChildren();
  for (const entry of profile.functions) {
    const share = profile.instructions ? (100 * entry.instructions) / profile.instructions : 0;
    const tr = row(table, [entry.function, entry.instructions.toLocaleString('en'), `${share.toFixed(1)}%`]);
    tr.title = entry.function;
    tr.style.setProperty('--share', `${share}%`);
  }
}

async function timeRequest() {
  try {
    if (!(await prepare())) return;
    const timing = await call('time', { request: requestFromForm(), count: 200 });
    $('stats').textContent = `${timing.count} requests in ${timing.millis.toFixed(1)} ms: ${timing.microsPerRequest.toFixed(1)} µs per request in this page`;
  } catch (error) {
    showError('Timing failed', error.message);
  }
}

// ---- Debugger ----------------------------------------------------------------------------

const baseName = (file) => (file || '').split('/').pop();
const isEditorFile = (file) => !!file && (file === sourceFile() || file.endsWith(`/${sourceFile()}`));

function endDebugging() {
  $('debugger-panel').hidden = true;
  editor?.showCurrentLine(null);
}

async function startDebugging() {
  let request;
  try { request = requestFromForm(); } catch (error) { showError('Bad request', error.message); return; }
  if (!(await prepare())) return;
  clearResponse('Debugging: the response shows when the exchange ends.');
  await debugCall('debugStart', { request });
  $('debugger-panel').scrollIntoView({ behavior: 'smooth', block: 'start' });
}

function debugCommand(kind) {
  const addresses = $('dbg-breakpoint').value.split(/[\s,]+/).filter(Boolean);
  const lines = editor.breakpoints().map((line) => ({ file: sourceFile(), line }));
  return debugCall('debugCommand', {
    command: { kind, lines, addresses, stop_at_hooks: $('dbg-stop-at-hooks').checked },
  });
}

async function debugCall(type, message) {
  try {
    renderDebugger(await call(type, message));
  } catch (error) {
    showError('The debugger stopped', error.message);
  }
}

const STOP_WORDS = {
  started: 'stopped before the first hook',
  step: 'stepped',
  breakpoint: 'stopped at a breakpoint',
  hook_entered: 'stopped before the hook',
  ended: 'the exchange ended',
  step_limit: 'paused after many instructions (press Continue to go on)',
};

function renderDebugger(state) {
  $('debugger-panel').hidden = false;
  $('dbg-pc').textContent = state.pc;
  $('dbg-symbol').textContent = state.symbol ? `<${state.symbol}>` : '';
  const where = state.hook ? `${state.hook} (${state.side} fork)` : 'exchange';
  const line = state.source ? ` · ${baseName(state.source.file)}:${state.source.line}` : '';
  $('dbg-status').textContent = `${where}${line} · ${state.instructions.toLocaleString('en')} instructions · ${STOP_WORDS[state.stop] || state.stop}`;
  for (const id of ['dbg-continue', 'dbg-over', 'dbg-into', 'dbg-out', 'dbg-step', 'dbg-hook']) $(id).disabled = state.finished;

  editor.showCurrentLine(state.source && isEditorFile(state.source.file) ? state.source.line : null);
  renderHooks(state);
  renderFrames(state.frames);
  renderLocals(state.locals);
  renderRequestState(state);
  renderDisassembly(state.disassembly);
  renderRegisters(state.registers);
  $('log').textContent = state.log.join('\n');
  renderChanges(state.changes);
  if (state.finished && state.end) {
    showResponse(state.end);
    $('response-source').textContent = 'debugged exchange';
    $('stats').textContent = `${state.instructions.toLocaleString('en')} instructions`;
    if (state.error) showError(state.error.explanation, `${state.error.kind} in ${state.error.during}: ${state.error.detail}`);
  }
}

function renderHooks(state) {
  const list = $('hooks');
  list.replaceChildren();
  for (const run of state.hooks) {
    const item = document.createElement('li');
    item.className = run.status;
    item.textContent = `${run.hook} · ${run.side} · ${run.status} · ${run.instructions.toLocaleString('en')} instr.`;
    list.append(item);
  }
  if (state.finished) {
    const item = document.createElement('li');
    item.className = state.error ? 'failed' : 'returned';
    item.textContent = state.error ? `failed: ${state.error.kind}` : `response ${state.end?.status}`;
    list.append(item);
  }
}

function renderFrames(frames) {
  const list = $('frames');
  list.replaceChildren();
  for (const frame of frames) {
    const item = document.createElement('li');
    const name = document.createElement('span');
    name.className = 'function';
    name.textContent = frame.function + (frame.inlined ? ' (inlined)' : '');
    const where = document.createElement('span');
    where.className = 'where';
    where.textContent = frame.line ? `${baseName(frame.file)}:${frame.line}` : frame.pc;
    item.append(name, where);
    if (frame.line && isEditorFile(frame.file)) {
      item.classList.add('mine');
      item.onclick = () => editor.goToLine(frame.line);
    }
    list.append(item);
  }
  if (!frames.length) list.append(Object.assign(document.createElement('li'), { textContent: '—' }));
}

function renderLocals(locals) {
  const table = $('locals');
  table.replaceChildren();
  for (const variable of locals) {
    const tr = row(table, [variable.name, variable.value, variable.type_name]);
    tr.title = `${variable.parameter ? 'parameter' : 'local'} ${variable.type_name} ${variable.name}`;
  }
  if (!locals.length) row(table, ['No locals here (no line information, or none in scope).'], 'none');
}

function renderRequestState(state) {
  const table = $('dbg-request');
  table.replaceChildren();
  const request = state.request;
  row(table, ['req', `${request.method} ${request.url}`]);
  for (const [name, value] of request.headers) row(table, [`  ${name}`, value]);
  if (state.backend_request) {
    const bereq = state.backend_request;
    row(table, ['bereq', `${bereq.method} ${bereq.url}`]);
    for (const [name, value] of bereq.headers) row(table, [`  ${name}`, value]);
  }
  if (state.origin_response) row(table, ['beresp (origin)', `HTTP ${state.origin_response.status}`]);
}

function renderDisassembly(lines) {
  const list = $('disassembly');
  list.replaceChildren();
  const breakpoints = new Set($('dbg-breakpoint').value.split(/[\s,]+/).filter(Boolean));
  for (const line of lines) {
    if (line.label) {
      const label = document.createElement('li');
      label.className = 'label';
      label.textContent = `<${line.label}>:`;
      label.title = line.label;
      list.append(label);
    }
    const item = document.createElement('li');
    if (line.current) item.className = 'current';
    if (breakpoints.has(line.pc)) item.classList.add('breakpoint');
    const address = document.createElement('button');
    address.className = 'address';
    address.textContent = line.pc;
    address.title = 'Toggle a breakpoint here';
    address.onclick = () => {
      breakpoints.has(line.pc) ? breakpoints.delete(line.pc) : breakpoints.add(line.pc);
      $('dbg-breakpoint').value = [...breakpoints].join(' ');
      item.classList.toggle('breakpoint');
    };
    const bits = document.createElement('span');
    bits.className = 'bits';
    bits.textContent = line.bits;
    const text = document.createElement('span');
    text.className = 'text';
    text.textContent = line.text;
    text.title = line.text;
    item.append(address, bits, text);
    list.append(item);
  }
  if (!lines.length) list.append(Object.assign(document.createElement('li'), { textContent: 'No hook is running.' }));
}

function renderRegisters(registers) {
  const table = $('registers');
  table.replaceChildren();
  for (let index = 0; index < registers.length; index += 2) {
    const tr = table.insertRow();
    for (const register of registers.slice(index, index + 2)) {
      const name = tr.insertCell();
      name.className = 'name';
      name.textContent = `x${register.number} ${register.name}`;
      const value = tr.insertCell();
      value.className = 'value';
      value.textContent = register.value;
    }
  }
}

// ---- Share -------------------------------------------------------------------------------

const SHARE_PREFIX = '#s=';

async function squeeze(bytes, stream) {
  const output = new Blob([bytes]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(output).arrayBuffer());
}

function toBase64Url(bytes) {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text) {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(binary, (character) => character.charCodeAt(0));
}

async function shareLink() {
  let request;
  try { request = requestFromForm(); } catch (error) { showError('Bad request', error.message); return; }
  const state = {
    v: 1,
    example: $('example').value || null,
    language: editor.language(),
    source: editor.text(),
    limits: limitsFromForm(),
    request,
  };
  const packed = await squeeze(new TextEncoder().encode(JSON.stringify(state)), new CompressionStream('deflate-raw'));
  const url = `${location.origin}${location.pathname}${SHARE_PREFIX}${toBase64Url(packed)}`;
  history.replaceState(null, '', url);
  $('share-box').hidden = false;
  $('share-url').value = url;
  $('share-url').select();
  try { await navigator.clipboard.writeText(url); } catch { /* the field shows it anyway */ }
}

async function openSharedRun(fragment) {
  const packed = fromBase64Url(fragment.slice(SHARE_PREFIX.length));
  const json = new TextDecoder().decode(await squeeze(packed, new DecompressionStream('deflate-raw')));
  const state = JSON.parse(json);
  if (state.example && examples.some((example) => example.name === state.example)) {
    await pickExample(state.example, { load: false });
    current.name = state.example;
  }
  editor.setText(state.source, state.language);
  showLanguage(state.language);
  fillLimits(state.limits);
  fillRequest(state.request);
  $('example-description').textContent = 'Opened from a shared link: the source, limits and request are the link\'s.';
  await runRequest();
}

// ---- Start ---------------------------------------------------------------------------------

async function main() {
  editor = createEditor($('editor'), { onEdit: () => { $('share-box').hidden = true; } });
  startWorker();
  $('stop').onclick = stopWorker;
  $('run').onclick = runRequest;
  $('time').onclick = timeRequest;
  $('share').onclick = shareLink;
  $('profile-run').onclick = profileRequest;
  $('load').onclick = async () => { if (current.elf) await loadTenant(); };
  $('example').onchange = (event) => event.target.value && pickExample(event.target.value);
  $('upload').onchange = (event) => event.target.files[0] && uploadElf(event.target.files[0]);
  $('debug').onclick = startDebugging;
  $('dbg-continue').onclick = () => debugCommand('continue');
  $('dbg-over').onclick = () => debugCommand('over');
  $('dbg-into').onclick = () => debugCommand('into');
  $('dbg-out').onclick = () => debugCommand('out');
  $('dbg-step').onclick = () => debugCommand('instruction');
  $('dbg-hook').onclick = () => debugCommand('next_hook');
  document.addEventListener('keydown', (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === 'Enter') { event.preventDefault(); runRequest(); }
  });
  examples = await (await fetch('tenants/index.json')).json();
  const select = $('example');
  select.append(new Option('— choose an example —', ''));
  for (const example of examples) select.append(new Option(example.title, example.name));
  if (location.hash.startsWith(SHARE_PREFIX)) {
    try {
      await openSharedRun(location.hash);
    } catch (error) {
      showError('The shared link could not be opened', error.message);
    }
  } else if (examples.length) {
    await pickExample(examples[0].name);
  } else {
    setWorkerState('ready', 'ready');
  }
  document.body.dataset.ready = 'true';
}

// For the benchmark driver (Playwright): run a plain program in the worker and time it.
window.rvedgePlayground = {
  async bench(url, args, maxInstructions) {
    const elf = await (await fetch(url)).arrayBuffer();
    return call('bench', { elf, args, maxInstructions }, [elf]);
  },
  time: (count) => call('time', { request: requestFromForm(), count }),
};

main().catch((error) => showError('The playground failed to start', error.message));
