//! Time for tenants and statistics: the page's clocks in the browser (`performance.now()`,
//! `Date.now()`), std's natively. The runtime calls no clock itself, since std's clock panics
//! on wasm32-unknown-unknown.

use rvedge::Clock;

#[cfg(target_arch = "wasm32")]
mod page {
    use wasm_bindgen::prelude::wasm_bindgen;

    #[wasm_bindgen]
    extern "C" {
        // `performance` exists in windows, workers and Node alike.
        #[wasm_bindgen(js_namespace = performance, js_name = now)]
        pub fn performance_now() -> f64;
        #[wasm_bindgen(js_namespace = Date, js_name = now)]
        pub fn date_now() -> f64;
    }
}

/// Monotonic nanoseconds, for statistics.
#[cfg(target_arch = "wasm32")]
pub fn monotonic_nanos() -> u64 {
    (page::performance_now() * 1e6) as u64
}

/// Monotonic nanoseconds, for statistics.
#[cfg(not(target_arch = "wasm32"))]
pub fn monotonic_nanos() -> u64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

#[cfg(target_arch = "wasm32")]
fn realtime_nanos() -> u64 {
    (page::date_now() * 1e6) as u64
}

#[cfg(not(target_arch = "wasm32"))]
fn realtime_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64)
}

/// The clock tenants read with `clock_gettime` in the playground.
pub fn tenant_clock(clock: Clock) -> u64 {
    match clock {
        Clock::Realtime => realtime_nanos(),
        Clock::Monotonic => monotonic_nanos(),
    }
}
