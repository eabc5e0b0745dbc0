//! The shared conformance table and the debugger inside WebAssembly on Node
//! (`wasm-pack test --node`).
#![cfg(target_arch = "wasm32")]

mod wasm_cases;
