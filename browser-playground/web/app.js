// The page: tenant and request editors, response, diff, log and debugger panels. All emulator
// work goes to worker.js; this module only renders.
const $ = (id) => document.getElementById(id);

let worker = null;
let nextId = 1;
const pending = new Map();
let examples = [];
// What is loaded, so Stop can restart the worker with the same tenant.
let current = { name: null, elf: null, limits: null };
let breakpoints = new Set();

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
  $('debugger-panel').hidden = true;
  startWorker();
  if (current.elf) await loadTenant();
  else setWorkerState('ready', 'ready');
}

function limitsFromForm() {
  const limits = {};
  const number = $('max-instructions').value.trim();
  if (number) limits.max_instructions = Number(number);
  for (const [id, key] of [['max-memory', 'max_memory'], ['max-request-memory', 'max_request_memory'], ['stack-size', 'stack_size']]) {
    const value = $(id).value.trim();
    if (value) limits[key] = value;
  }
  return JSON.stringify(limits);
}

function fillLimits(limits) {
  $('max-instructions').value = limits.max_instructions ?? '';
  $('max-memory').value = limits.max_memory ?? '';
  $('max-request-memory').value = limits.max_request_memory ?? '';
  $('stack-size').value = limits.stack_size ?? '';
}

function fillRequest(request) {
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

async function loadTenant() {
  current.limits = limitsFromForm();
  $('tenant-status').textContent = `Loading ${current.name}…`;
  try {
    const info = await call('load', { name: current.name, elf: current.elf.slice(0), limits: current.limits });
    const boot = info.bootLog.length ? ` It logged ${info.bootLog.length} line(s) while starting.` : '';
    $('tenant-status').textContent = `${info.name} is loaded: main() ran to wait_for_requests in ${info.loadMillis.toFixed(1)} ms.${boot}`;
    $('tenant-status').className = 'hint ok';
    $('log').textContent = info.bootLog.join('\n');
  } catch (error) {
    $('tenant-status').textContent = `Could not load ${current.name}: ${error.message}`;
    $('tenant-status').className = 'hint bad';
  }
}

async function pickExample(name) {
  const example = examples.find((entry) => entry.name === name);
  if (!example) return;
  $('example-description').textContent = example.description;
  fillLimits(example.limits);
  fillRequest(example.request);
  const response = await fetch(`tenants/${example.file}`);
  current = { name: example.name, elf: await response.arrayBuffer(), limits: null };
  $('upload').value = '';
  clearResponse('');
  $('debugger-panel').hidden = true;
  await loadTenant();
}

async function uploadElf(file) {
  current = { name: file.name.replace(/\.[^.]*$/, '') || 'upload', elf: await file.arrayBuffer(), limits: null };
  $('example').value = '';
  clearResponse('');
  $('example-description').textContent = `Uploaded ${file.name} (${file.size} bytes).`;
  $('debugger-panel').hidden = true;
  await loadTenant();
}

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

function renderReport(report) {
  $('error').hidden = true;
  if (report.error) {
    showError(report.error.explanation, `${report.error.kind} in ${report.error.during}: ${report.error.detail}`);
  }
  const status = $('response-status');
  status.textContent = `HTTP ${report.status}`;
  status.className = `status s${String(report.status)[0]}`;
  const source = report.source;
  $('response-source').textContent = {
    synthesized: 'answered by on_recv',
    forged: source.cached ? `forged, cached ${source.ttl_seconds}s` : 'forged, not cached',
    backend: `origin: backend "${source.name}"`,
    error: 'tenant error',
  }[source.kind];
  $('stats').textContent = `${report.instructions.toLocaleString('en')} instructions · ${report.forks} fork(s) · ${report.pages_written} page(s) written · ${report.pageMillis.toFixed(2)} ms`;
  const headers = $('response-headers');
  headers.replaceChildren();
  for (const [name, value] of report.headers) row(headers, [name, value]);
  const contentType = (report.headers.find(([name]) => name.toLowerCase() === 'content-type') || [])[1] || '';
  $('response-body').textContent = prettyBody(report.body, contentType);
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

async function runRequest() {
  try {
    renderReport(await call('run', { request: requestFromForm() }));
  } catch (error) {
    showError('The request did not run', error.message);
  }
}

async function timeRequest() {
  try {
    const timing = await call('time', { request: requestFromForm(), count: 200 });
    $('stats').textContent = `${timing.count} requests in ${timing.millis.toFixed(1)} ms: ${timing.microsPerRequest.toFixed(1)} µs per request in this page`;
  } catch (error) {
    showError('Timing failed', error.message);
  }
}

function renderDebugger(state) {
  $('debugger-panel').hidden = false;
  $('dbg-pc').textContent = state.pc;
  let status = `${state.hook} · ${state.instructions.toLocaleString('en')} instructions`;
  if (state.at_breakpoint) status += ' · stopped at breakpoint';
  if (state.finished) status += state.error ? ` · failed: ${state.error.kind}` : ' · returned';
  $('dbg-status').textContent = status;
  if (state.error) showError(state.error.explanation, `${state.error.kind} in ${state.error.during}: ${state.error.detail}`);
  const list = $('disassembly');
  list.replaceChildren();
  for (const line of state.disassembly) {
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
    item.append(address, bits, text);
    list.append(item);
  }
  if (!state.disassembly.length) {
    const item = document.createElement('li');
    item.textContent = state.finished ? 'The hook has ended.' : 'pc is outside the decoded code.';
    list.append(item);
  }
  const registers = $('registers');
  registers.replaceChildren();
  for (let index = 0; index < state.registers.length; index += 2) {
    const tr = registers.insertRow();
    for (const register of state.registers.slice(index, index + 2)) {
      const name = tr.insertCell();
      name.className = 'name';
      name.textContent = `x${register.number} ${register.name}`;
      const value = tr.insertCell();
      value.className = 'value';
      value.textContent = register.value;
    }
  }
  $('log').textContent = state.log.join('\n');
  renderChanges(state.changes);
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

async function debugCommand(type, message) {
  try {
    const wasHidden = $('debugger-panel').hidden;
    renderDebugger(await call(type, message));
    if (wasHidden) $('debugger-panel').scrollIntoView({ behavior: 'smooth', block: 'start' });
  } catch (error) {
    showError('The debugger stopped', error.message);
  }
}

async function main() {
  startWorker();
  $('stop').onclick = stopWorker;
  $('run').onclick = runRequest;
  $('time').onclick = timeRequest;
  $('load').onclick = () => current.elf && loadTenant();
  $('example').onchange = (event) => event.target.value && pickExample(event.target.value);
  $('upload').onchange = (event) => event.target.files[0] && uploadElf(event.target.files[0]);
  $('debug').onclick = () => {
    $('error').hidden = true;
    let request;
    try { request = requestFromForm(); } catch (error) { showError('Bad request', error.message); return; }
    clearResponse('Debugging on_recv: Run shows the whole exchange.');
    debugCommand('debugStart', { request });
  };
  $('dbg-step').onclick = () => debugCommand('debugStep');
  $('dbg-continue').onclick = () => {
    breakpoints = new Set($('dbg-breakpoint').value.split(/[\s,]+/).filter(Boolean));
    debugCommand('debugContinue', { breakpoints: [...breakpoints], maxSteps: 100_000_000 });
  };
  examples = await (await fetch('tenants/index.json')).json();
  const select = $('example');
  const placeholder = new Option('— choose an example —', '');
  select.append(placeholder);
  for (const example of examples) select.append(new Option(example.title, example.name));
  select.value = examples[0]?.name ?? '';
  if (examples.length) await pickExample(examples[0].name);
  else setWorkerState('ready', 'ready');
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
