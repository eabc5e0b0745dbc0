//! The shared conformance table and the debugger inside WebAssembly in a browser
//! (`wasm-pack test --headless --chrome`: Debian's chromium and chromedriver).
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod wasm_cases;
