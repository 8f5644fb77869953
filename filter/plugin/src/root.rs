//! The root context: loads and validates the plugin configuration, creates one HTTP context per request.

use crate::http::Request;
use crate::stats::Stats;
use ob_event_core::{Config, ConfigError};
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::ContextType;
use std::rc::Rc;

/// What every request of this configuration shares.
pub struct Shared {
    /// The configuration, or why it was refused (then every request is answered 500: fail closed).
    pub config: Result<Config, ConfigError>,
    pub stats: Stats,
}

pub struct Root {
    shared: Rc<Shared>,
}

impl Default for Root {
    fn default() -> Self {
        Root {
            shared: Rc::new(Shared {
                config: Err(ConfigError(
                    "the plugin configuration was not loaded".into(),
                )),
                stats: Stats::default(),
            }),
        }
    }
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        let config = Config::parse(&bytes);
        match &config {
            Ok(config) => log::info!(
                "ob-event-filter {} configured: base_path {:?}",
                env!("CARGO_PKG_VERSION"),
                config.base_path
            ),
            Err(error) => log::error!(
                "ob-event-filter configuration REFUSED, every request will be answered 500 until it is fixed: {error}"
            ),
        }
        self.shared = Rc::new(Shared {
            config,
            stats: Stats::default(),
        });
        // Keep the plugin loaded even with a bad configuration: the filter then answers every request itself
        // with an OB error carrying the interaction id (fail closed), rather than Envoy's bare 503.
        true
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Request::new(Rc::clone(&self.shared))))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
