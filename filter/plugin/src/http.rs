//! One HTTP request: gather the facts, ask the core, apply the answer.

use crate::root::Shared;
use ob_event_core::errors::ErrorKind;
use ob_event_core::{endpoints, interaction, reply, InteractionId, LocalReply, Refusal};
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;
use std::rc::Rc;

pub struct Request {
    shared: Rc<Shared>,
}

impl Request {
    pub fn new(shared: Rc<Shared>) -> Self {
        Request { shared }
    }

    fn refuse(&self, refusal: &Refusal, id: &InteractionId) -> Action {
        let spec = refusal.spec();
        self.shared.stats.refused(refusal.reason);
        log::warn!(
            "[{id}] refused {} {}: {} ({})",
            spec.status,
            refusal.reason,
            refusal.message,
            refusal.path.as_deref().unwrap_or("-")
        );
        self.send(&reply::refusal(refusal, id))
    }

    fn send(&self, reply: &LocalReply) -> Action {
        let headers: Vec<(&str, &str)> = reply
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        self.send_http_response(u32::from(reply.status), headers, reply.body.as_deref());
        // After a local reply Envoy expects the filter to stop iteration.
        Action::Pause
    }
}

impl Context for Request {}

impl HttpContext for Request {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        self.shared.stats.request();
        let sent_id = self.get_http_request_header(interaction::HEADER);
        let id = InteractionId::for_request(sent_id.as_deref(), random_bytes());

        let config = match &self.shared.config {
            Ok(config) => config,
            Err(_) => {
                let refusal = Refusal::new(
                    ErrorKind::ConfigurationInvalid,
                    "The gateway is not configured correctly; the request was not processed",
                );
                return self.refuse(&refusal, &id);
            }
        };

        let method = self.get_http_request_header(":method").unwrap_or_default();
        let path = self.get_http_request_header(":path").unwrap_or_default();
        match endpoints::route(&config.base_path, &method, &path) {
            Err(refusal) => self.refuse(&refusal, &id),
            Ok(endpoint) => {
                let refusal = Refusal::new(
                    ErrorKind::NotImplemented,
                    format!(
                        "{} {} is not served by this gateway yet",
                        endpoint.method(),
                        endpoint.template()
                    ),
                );
                self.refuse(&refusal, &id)
            }
        }
    }
}

/// 16 random bytes from the host (WASI `random_get`). Should the host fail, fall back to the clock mixed
/// with a counter: an interaction id must be unique, not secret.
fn random_bytes() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default();
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        let (a, b) = bytes.split_at_mut(8);
        a.copy_from_slice(&nanos.to_le_bytes());
        b.copy_from_slice(&count.to_le_bytes());
    }
    bytes
}
