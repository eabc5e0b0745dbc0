// Runs a wasm32-wasip1 command module (a cargo test binary) under Node's WASI, so the core's
// tests run inside wasm too: CARGO_TARGET_WASM32_WASIP1_RUNNER="node scripts/lib/wasi-run.mjs".
import { readFile } from "node:fs/promises";
import { argv, env, exit } from "node:process";
import { WASI } from "node:wasi";

const [, , modulePath, ...moduleArguments] = argv;
const wasi = new WASI({
    version: "preview1",
    args: [modulePath, ...moduleArguments],
    env,
    returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(modulePath));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
exit(wasi.start(instance));
