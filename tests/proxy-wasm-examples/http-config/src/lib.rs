//! Adds a response header taken from the plugin configuration, written `name: value`. An
//! empty or malformed configuration is refused.

use std::rc::Rc;

use log::{error, info};
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(ConfiguredRoot { header: None })
    });
}}

struct ConfiguredRoot {
    header: Option<Rc<(String, String)>>,
}

impl Context for ConfiguredRoot {}

impl RootContext for ConfiguredRoot {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let configuration = self.get_plugin_configuration().unwrap_or_default();
        let text = String::from_utf8_lossy(&configuration);
        let Some((name, value)) = text.split_once(':') else {
            error!("configuration must be \"name: value\", got {text:?}");
            return false;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() {
            error!("configuration names no header");
            return false;
        }
        info!("adding header {name}: {value}");
        self.header = Some(Rc::new((name.to_string(), value.to_string())));
        true
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(HeaderAdder {
            header: self.header.clone()?,
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct HeaderAdder {
    header: Rc<(String, String)>,
}

impl Context for HeaderAdder {}

impl HttpContext for HeaderAdder {
    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let (name, value) = &*self.header;
        self.add_http_response_header(name, value);
        Action::Continue
    }
}
