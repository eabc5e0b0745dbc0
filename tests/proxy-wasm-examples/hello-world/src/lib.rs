//! Logs a greeting when the VM starts, then on every tick the time and a random number
//! (randomness through WASI, the way the SDK's hello_world draws it).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::{Duration, UNIX_EPOCH};

use log::info;
use proxy_wasm::traits::{Context, RootContext};
use proxy_wasm::types::LogLevel;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Greeter) });
}}

struct Greeter;

impl Context for Greeter {}

impl RootContext for Greeter {
    fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        info!("Hello, World!");
        self.set_tick_period(Duration::from_secs(5));
        true
    }

    fn on_tick(&mut self) {
        let since_epoch = self
            .get_current_time()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        // RandomState is seeded from WASI random_get.
        let lucky_number = RandomState::new().hash_one(0u8) % 100;
        info!(
            "It's {} seconds since the epoch; your lucky number is {lucky_number}.",
            since_epoch.as_secs()
        );
    }
}
