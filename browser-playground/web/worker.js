// The emulator's side of the page: owns the wasm module, the loaded tenant and a debugging
// session. It runs in a Web Worker so a busy tenant never blocks the page; Stop terminates it.
import init, { PlaygroundTenant, runProgram } from './pkg/rvedge_playground.js';

const ready = init({ module_or_path: new URL('./pkg/rvedge_playground_bg.wasm', import.meta.url) });
let tenant = null;
let debuggerSession = null;

const handlers = {
  load({ name, elf, limits }) {
    if (debuggerSession) { debuggerSession.free(); debuggerSession = null; }
    if (tenant) { tenant.free(); tenant = null; }
    const started = performance.now();
    tenant = new PlaygroundTenant(name, new Uint8Array(elf), limits);
    return {
      name: tenant.name(),
      bootLog: JSON.parse(tenant.bootLog()),
      limits: JSON.parse(tenant.limits()),
      sourceInfo: JSON.parse(tenant.sourceInfo()),
      loadMillis: performance.now() - started,
    };
  },
  run({ request }) {
    const started = performance.now();
    const report = JSON.parse(requireTenant().run(JSON.stringify(request)));
    report.pageMillis = performance.now() - started;
    return report;
  },
  time({ request, count }) {
    const text = JSON.stringify(request);
    const loaded = requireTenant();
    loaded.run(text); // warm-up
    const started = performance.now();
    for (let index = 0; index < count; index++) loaded.run(text);
    const millis = performance.now() - started;
    return { count, millis, microsPerRequest: (millis * 1000) / count };
  },
  profile({ request, maxSteps }) {
    const started = performance.now();
    const profile = JSON.parse(requireTenant().profile(JSON.stringify(request), maxSteps));
    profile.millis = performance.now() - started;
    return profile;
  },
  debugStart({ request }) {
    if (debuggerSession) debuggerSession.free();
    debuggerSession = requireTenant().debug(JSON.stringify(request));
    return JSON.parse(debuggerSession.state());
  },
  debugCommand({ command }) {
    return JSON.parse(requireDebugger().command(JSON.stringify(command)));
  },
  bench({ elf, args, maxInstructions }) {
    const started = performance.now();
    const run = JSON.parse(runProgram(new Uint8Array(elf), JSON.stringify(args), maxInstructions));
    run.millis = performance.now() - started;
    return run;
  },
};

function requireTenant() {
  if (!tenant) throw new Error('No tenant is loaded.');
  return tenant;
}

function requireDebugger() {
  if (!debuggerSession) throw new Error('No debugging session: press "Debug" first.');
  return debuggerSession;
}

self.onmessage = async ({ data }) => {
  const { id, type } = data;
  try {
    await ready;
    const handler = handlers[type];
    if (!handler) throw new Error(`unknown request ${type}`);
    self.postMessage({ id, ok: true, result: handler(data) });
  } catch (error) {
    self.postMessage({ id, ok: false, error: String(error && error.message ? error.message : error) });
  }
};
