//! One HTTP request: gather the facts, ask the core, apply the answer.
//!
//! Phases: headers (route, identity, negotiation) → body (when the endpoint has one) → backend call →
//! answer; a long poll that finds nothing is parked with the root context, which answers it later.

use crate::host::{self, Upstream};
use crate::ids;
use crate::keys::keys_of;
use crate::respond;
use crate::root::Shared;
use ob_event_core::config::Forward;
use ob_event_core::errors::ErrorKind;
use ob_event_core::exchange::{Caller, Exchange, Head, Next};
use ob_event_core::identity;
use ob_event_core::subscription_data;
use ob_event_core::{endpoints, interaction, InteractionId, LocalReply, Refusal};
use ob_proxy_abi::{Action, HttpContext};
use std::rc::Rc;

enum Phase {
    /// Nothing decided yet.
    Start,
    /// Reading the body of an exchange.
    Body { exchange: Exchange, limit: usize },
    /// Waiting for the backend's answer.
    Backend { exchange: Exchange },
    /// Parked with the root context (long poll).
    Parked,
    /// Route mode: passed every check and went on to Envoy's route.
    Forwarded,
    /// Answered.
    Done,
}

pub struct Request {
    shared: Rc<Shared>,
    context_id: u32,
    id: Option<InteractionId>,
    phase: Phase,
}

impl Request {
    pub fn new(shared: Rc<Shared>, context_id: u32) -> Self {
        Request {
            shared,
            context_id,
            id: None,
            phase: Phase::Start,
        }
    }

    fn id(&self) -> InteractionId {
        self.id
            .clone()
            .unwrap_or_else(|| InteractionId::new_v4(ids::fresh()))
    }

    fn refuse(&mut self, refusal: &Refusal, detail: Option<&str>) -> Action {
        let reply = respond::refusal(&self.shared.stats, refusal, detail, &self.id());
        self.send(&reply)
    }

    fn send(&mut self, reply: &LocalReply) -> Action {
        self.phase = Phase::Done;
        host::send(reply);
        // After a local reply Envoy expects the filter to stop iteration.
        Action::Pause
    }

    /// Do what the exchange says next.
    fn apply(&mut self, mut exchange: Exchange, next: Next, end_of_stream: bool) -> Action {
        match next {
            Next::Refuse { refusal, detail } => self.refuse(&refusal, detail.as_deref()),
            Next::Reply(reply) => {
                respond::answered(
                    &self.shared.stats,
                    &reply,
                    &self.id(),
                    exchange.endpoint().template(),
                );
                self.send(&reply)
            }
            Next::ReadBody { limit } => {
                if end_of_stream {
                    // No body at all: the exchange decides what an empty body means.
                    let shared = Rc::clone(&self.shared);
                    let Ok(config) = &shared.config else {
                        return self.fail_closed();
                    };
                    let next = exchange.on_body(config, &[], host::now_ms());
                    return self.apply(exchange, next, true);
                }
                self.phase = Phase::Body { exchange, limit };
                // Envoy does not hand the body to a filter that stopped at the headers, so the headers go
                // on — to the `envoy.filters.http.buffer` filter that must follow this one, which holds
                // them until the end of the body; this filter holds the body (Pause on every chunk) and
                // answers locally. Without that buffer filter the route behind answers instead, never an
                // upstream (see docs/deploy.md).
                Action::Continue
            }
            Next::Call(call) => {
                let shared = Rc::clone(&self.shared);
                let Ok(config) = &shared.config else {
                    return self.fail_closed();
                };
                let Some(backend) = &config.backend else {
                    return self.fail_closed();
                };
                let upstream = Upstream {
                    cluster: &backend.cluster,
                    authority: &backend.authority,
                    timeout_ms: backend.timeout_ms,
                };
                match host::dispatch(&upstream, &call) {
                    Ok(_) => {
                        self.phase = Phase::Backend { exchange };
                        Action::Pause
                    }
                    Err(status) => {
                        let refusal = Refusal::new(
                            ErrorKind::BackendUnavailable,
                            "The event service is not available",
                        )
                        .because("dispatch_failed");
                        let detail = format!(
                            "cannot call cluster {:?}: {status:?} (is it defined in Envoy?)",
                            backend.cluster
                        );
                        self.refuse(&refusal, Some(&detail))
                    }
                }
            }
            Next::Forward => {
                self.phase = Phase::Forwarded;
                Action::Continue
            }
            Next::Wait { after_ms } => {
                self.shared.waiters.borrow_mut().park(
                    self.context_id,
                    exchange,
                    host::now_ms() + after_ms,
                );
                self.phase = Phase::Parked;
                Action::Pause
            }
        }
    }

    fn fail_closed(&mut self) -> Action {
        let refusal = Refusal::new(
            ErrorKind::ConfigurationInvalid,
            "The gateway is not configured correctly; the request was not processed",
        );
        self.refuse(&refusal, None)
    }
}

impl HttpContext for Request {
    fn on_http_call_response(&mut self, _token: u32, num_headers: usize, body_size: usize) {
        let Phase::Backend { mut exchange } = std::mem::replace(&mut self.phase, Phase::Done)
        else {
            return;
        };
        let shared = Rc::clone(&self.shared);
        let Ok(config) = &shared.config else {
            self.fail_closed();
            return;
        };
        let (status, body) = host::call_answer(num_headers, body_size);
        let next = exchange.on_answer(config, status, &body, host::now_ms());
        self.apply(exchange, next, true);
    }

    fn on_delete(&mut self) {
        if matches!(self.phase, Phase::Parked) {
            self.shared.waiters.borrow_mut().forget(self.context_id);
        }
    }

    fn on_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        self.shared.stats.request();
        let headers = host::RequestHeaders::read();
        let sent_id = headers.get(interaction::HEADER);
        let id = InteractionId::for_request(sent_id, ids::fresh);
        self.id = Some(id.clone());

        let shared = Rc::clone(&self.shared);
        let (config, auth) = match (&shared.config, &shared.auth) {
            (Ok(config), Some(auth)) => (config, auth),
            _ => return self.fail_closed(),
        };

        let method = headers.get(":method").unwrap_or_default();
        let path = headers.get(":path").unwrap_or_default();
        let endpoint = match endpoints::route(&config.base_path, method, path) {
            Ok(endpoint) => endpoint,
            Err(refusal) => return self.refuse(&refusal, None),
        };

        let now = host::now_ms() / 1000;
        let authenticated = {
            let mut auth = auth.borrow_mut();
            let auth = &mut *auth;
            let result = identity::authenticate(
                config,
                |issuer| keys_of(&auth.keys, issuer),
                &mut auth.cache,
                headers.get("authorization"),
                &endpoint,
                now,
            );
            if let Err(failure) = &result {
                if let Some(issuer) = &failure.refresh_keys_of {
                    auth.want_refresh(issuer);
                }
            }
            result
        };
        let verified = match authenticated {
            Ok(authenticated) => {
                self.shared.stats.token_cache(authenticated.cached);
                authenticated.token
            }
            Err(failure) => return self.refuse(&failure.refusal, None),
        };

        let snapshot = shared.subscriptions.borrow().snapshot.clone();
        let admission = match subscription_data::admit(
            snapshot.as_deref(),
            &verified.consumer_key,
            config.apim.key_manager.as_deref(),
            Some(config.apim.api_for(&endpoint)),
        ) {
            Ok(admission) => admission,
            Err(refusal) => return self.refuse(&refusal, None),
        };
        let registered_organisation = config
            .apim
            .organisation_attribute
            .as_deref()
            .and_then(|name| admission.attribute(name));

        let certificate = identity::read_certificate(
            config,
            &mut auth.borrow_mut().certificates,
            |name| headers.get(name).map(String::from),
            || host::property(&["connection", "sha256_peer_certificate_digest"]),
        );
        let certificate = match certificate {
            Ok(facts) => facts,
            Err(refusal) => return self.refuse(&refusal, None),
        };
        if let Err(refusal) = identity::check_certificate(
            config,
            &endpoint,
            certificate.as_ref(),
            &verified,
            registered_organisation,
            now,
        ) {
            return self.refuse(&refusal, None);
        }
        let route_mode = config.forward == Forward::Route;
        if !route_mode {
            // For Envoy's access log: who called (filter state `wasm.ob_event_filter.*`). In route mode the
            // same facts travel in the forwarded request headers, where the access log reads them
            // (`%REQ(x-wso2-client-id)%`): each filter-state write costs ~1.3 µs of the worker.
            host::set_state("ob_event_filter.client_id", &verified.consumer_key);
            host::set_state(
                "ob_event_filter.application_id",
                &admission.application_id().to_string(),
            );
            host::set_state("ob_event_filter.application_name", admission.name());
            host::set_state("ob_event_filter.key_type", admission.key_type.as_str());
        }

        let head = Head {
            accept: headers.get("accept"),
            content_type: headers.get("content-type"),
            authority: headers.get(":authority"),
        };
        let (exchange, next) = Exchange::start(
            config,
            endpoint,
            id.clone(),
            &verified,
            Some(Caller::of(&admission)),
            head,
        );
        if route_mode {
            // Before the headers go on: the identity the upstream sees is the verified one. The first
            // request-header write of a request costs the worker ~2.5 µs, later ones ~0.5 (BENCHMARKS.md),
            // so only what must change is written, and a header the request lacks is added, not replaced.
            for (name, value) in exchange.forward_headers(config) {
                if headers.get(name).is_some() {
                    host::set_request_header(name, &value);
                } else {
                    host::add_request_header(name, &value);
                }
            }
            for name in Exchange::forward_removed_headers(config) {
                if headers.get(name).is_some() {
                    host::remove_request_header(name);
                }
            }
            // A value that is not UTF-8 reads as U+FFFD (present, never equal to the id): replaced.
            match sent_id {
                None => host::add_request_header(interaction::HEADER, id.as_str()),
                Some(sent) if sent == id.as_str() && headers.count(interaction::HEADER) == 1 => {}
                Some(_) => host::set_request_header(interaction::HEADER, id.as_str()),
            }
        }
        self.apply(exchange, next, end_of_stream)
    }

    fn on_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        if matches!(self.phase, Phase::Forwarded) {
            if let Some(id) = &self.id {
                host::set_response_header(interaction::HEADER, id.as_str());
            }
        }
        Action::Continue
    }

    fn on_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let Phase::Body { exchange, limit } = &self.phase else {
            // Not reading a body (already answered, or waiting): hold whatever arrives.
            return Action::Pause;
        };
        if body_size > *limit {
            let next = exchange.body_too_large(*limit);
            let exchange = exchange.clone();
            return self.apply(exchange, next, true);
        }
        if !end_of_stream {
            return Action::Pause;
        }
        let Phase::Body { mut exchange, .. } = std::mem::replace(&mut self.phase, Phase::Done)
        else {
            return Action::Pause;
        };
        let shared = Rc::clone(&self.shared);
        let Ok(config) = &shared.config else {
            return self.fail_closed();
        };
        let body = host::request_body(body_size);
        let next = exchange.on_body(config, &body, host::now_ms());
        self.apply(exchange, next, true)
    }
}
