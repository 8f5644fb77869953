//! The root context: loads and validates the plugin configuration, keeps the issuers' keys fresh (remote
//! JWKS fetched on the tick, shared between workers), and creates one HTTP context per request.

use crate::host::{self, Upstream};
use crate::http::Request;
use crate::keys::{decode_document, encode_document, Auth};
use crate::respond;
use crate::stats::Stats;
use crate::subscriptions::{self, Load, Subscriptions, LEASE_KEY, SNAPSHOT_KEY, VERSION_KEY};
use crate::waiters::Waiters;
use ob_event_core::exchange::Next;
use ob_event_core::subscription_data::{DataApiRequest, Snapshot, SnapshotBuilder};
use ob_event_core::token::Jwks;
use ob_event_core::{Config, ConfigError};
use ob_proxy_abi::{HttpContext, RootContext};
use std::cell::RefCell;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::rc::Rc;

/// How often (ms) the root context looks at remote keys and parked long polls.
const TICK_MS: u32 = 100;
/// Wait before fetching again after a failed JWKS fetch, when no keys were ever loaded.
const FIRST_LOAD_RETRY_SECS: u64 = 2;

/// What every request of this configuration shares.
pub struct Shared {
    /// The configuration, or why it was refused (then every request is answered 500: fail closed).
    pub config: Result<Config, ConfigError>,
    pub stats: Stats,
    /// Keys and verified-token cache of this worker (absent without a valid configuration).
    pub auth: Option<Rc<RefCell<Auth>>>,
    /// Long polls parked in this worker.
    pub waiters: Rc<RefCell<Waiters>>,
    /// WSO2 subscription data of this worker.
    pub subscriptions: Rc<RefCell<Subscriptions>>,
}

thread_local! {
    /// Keys and token cache survive a configuration reload in this VM when the token-related configuration
    /// (issuers, cache size) is unchanged: a reload then costs no re-verification and no re-fetch.
    static AUTH: RefCell<Option<(u64, Rc<RefCell<Auth>>)>> = const { RefCell::new(None) };
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
                auth: None,
                waiters: Rc::default(),
                subscriptions: Rc::new(RefCell::new(Subscriptions {
                    snapshot: None,
                    data_api: None,
                    version_seen: None,
                    load: None,
                    last_attempt_ms: 0,
                    loaded_at_ms: 0,
                })),
            }),
        }
    }
}

fn now_secs() -> u64 {
    host::now_ms() / 1000
}

fn auth_for(config: &Config) -> Rc<RefCell<Auth>> {
    let mut hasher = DefaultHasher::new();
    format!("{:?}|{}", config.issuers, config.token_cache_entries).hash(&mut hasher);
    let fingerprint = hasher.finish();
    AUTH.with(|slot| {
        let mut slot = slot.borrow_mut();
        match slot.as_ref() {
            Some((known, auth)) if *known == fingerprint => Rc::clone(auth),
            _ => {
                let auth = Rc::new(RefCell::new(Auth::new(config)));
                *slot = Some((fingerprint, Rc::clone(&auth)));
                auth
            }
        }
    })
}

impl Root {
    /// Pick up keys another worker published, and fetch the ones that are due.
    fn refresh_keys(&mut self) {
        let Some(auth) = self.shared.auth.clone() else {
            return;
        };
        let now = now_secs();
        let mut auth = auth.borrow_mut();
        for i in 0..auth.remotes.len() {
            let Some(remote) = auth.remotes.get(i) else {
                continue;
            };
            let (data, cas) = host::shared(&remote.data_key);
            let issuer = remote.issuer.clone();
            if cas.is_some() && cas != remote.seen_cas {
                let parsed = data
                    .as_deref()
                    .and_then(decode_document)
                    .map(|(at, doc)| (at, Jwks::parse(doc)));
                if let Some((fetched_at, Ok(jwks))) = parsed {
                    log::info!(
                        "JWKS of {issuer} installed: {} key(s), fetched at {fetched_at}",
                        jwks.len()
                    );
                    auth.install(&issuer, jwks);
                    if let Some(remote) = auth.remotes.get_mut(i) {
                        remote.fetched_at = fetched_at;
                    }
                }
                if let Some(remote) = auth.remotes.get_mut(i) {
                    remote.seen_cas = cas;
                }
            }
            let Some(remote) = auth.remotes.get(i) else {
                continue;
            };
            let loaded = remote.seen_cas.is_some();
            let interval = remote.source.refresh_interval_secs;
            let min_interval = remote.source.min_refresh_interval_secs;
            let due = !loaded
                || now >= remote.fetched_at.saturating_add(interval)
                || (remote.refresh_wanted && now >= remote.fetched_at.saturating_add(min_interval));
            if remote.in_flight.is_some() {
                // An answer that never came (each fetch has its own timeout) frees the slot.
                if now > remote.in_flight_since + remote.source.timeout_ms.div_ceil(1000) * 2 + 1 {
                    if let Some(remote) = auth.remotes.get_mut(i) {
                        remote.in_flight = None;
                    }
                }
                continue;
            }
            if !due {
                continue;
            }
            let lease_key = format!("{}.lease", remote.data_key);
            let timeout_secs = remote.source.timeout_ms.div_ceil(1000) + 1;
            if !self.take_lease(&lease_key, now, now + timeout_secs) {
                continue;
            }
            let source = remote.source.clone();
            let headers = [
                (":method", "GET"),
                (":path", source.path.as_str()),
                (":authority", source.authority.as_str()),
                (":scheme", "http"),
                ("accept", "application/json"),
            ];
            match host::get(&source.cluster, &headers, source.timeout_ms) {
                Ok(token) => {
                    if let Some(remote) = auth.remotes.get_mut(i) {
                        remote.in_flight = Some(token);
                        remote.in_flight_since = now;
                        remote.refresh_wanted = false;
                    }
                }
                Err(status) => {
                    self.shared.stats.increment("jwks", "fetch_failed");
                    log::error!(
                        "JWKS of {issuer}: cannot call cluster {:?} ({status:?}); is it defined in Envoy?",
                        source.cluster
                    );
                }
            }
        }
    }

    /// Elect this worker to fetch: the lease is free (absent or expired) and the compare-and-swap wins.
    fn take_lease(&self, key: &str, now: u64, until: u64) -> bool {
        let (value, cas) = host::shared(key);
        let held_until = value
            .as_deref()
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        held_until <= now && host::set_shared(key, until.to_string().as_bytes(), cas).is_ok()
    }

    fn jwks_answer(&mut self, token: u32, num_headers: usize, body_size: usize) {
        let Some(auth) = self.shared.auth.clone() else {
            return;
        };
        let now = now_secs();
        let mut auth = auth.borrow_mut();
        let Some(remote) = auth.remotes.iter_mut().find(|r| r.in_flight == Some(token)) else {
            return;
        };
        remote.in_flight = None;
        let issuer = remote.issuer.clone();
        let data_key = remote.data_key.clone();
        let loaded = remote.seen_cas.is_some();
        let min_interval = remote.source.min_refresh_interval_secs;
        let (status, body) = host::call_answer(num_headers, body_size);
        let status = status.to_string();
        let parsed = if status == "200" {
            Jwks::parse(&body).map_err(|e| e.to_string())
        } else {
            Err(format!("answer {status:?}"))
        };
        match parsed {
            Ok(jwks) if !jwks.is_empty() => {
                self.shared.stats.increment("jwks", "fetched");
                let document = encode_document(now, &body);
                if host::set_shared(&data_key, &document, None).is_err() {
                    log::warn!("JWKS of {issuer}: could not publish to shared data");
                }
                let (_, cas) = host::shared(&data_key);
                log::info!("JWKS of {issuer} fetched: {} key(s)", jwks.len());
                auth.install(&issuer, jwks);
                if let Some(remote) = auth.remotes.iter_mut().find(|r| r.issuer == issuer) {
                    remote.fetched_at = now;
                    remote.seen_cas = cas;
                }
            }
            other => {
                let why = match other {
                    Ok(_) => "no usable key".to_string(),
                    Err(e) => e,
                };
                self.shared.stats.increment("jwks", "fetch_failed");
                let retry = if loaded {
                    min_interval
                } else {
                    FIRST_LOAD_RETRY_SECS
                };
                log::warn!(
                    "JWKS of {issuer}: fetch failed ({why}); {} retry in {retry} s",
                    if loaded {
                        "keeping the keys loaded before;"
                    } else {
                        "no keys loaded yet, tokens of this issuer are answered 503;"
                    }
                );
                let lease_key = format!("{data_key}.lease");
                let _ = host::set_shared(&lease_key, (now + retry).to_string().as_bytes(), None);
            }
        }
    }
}

impl Root {
    /// Ask the backend again for the parked long polls that are due.
    fn poll_again(&mut self) {
        let shared = Rc::clone(&self.shared);
        let Ok(config) = &shared.config else {
            return;
        };
        let now = host::now_ms();
        let due: Vec<(u32, ob_event_core::backend::BackendCall)> = shared
            .waiters
            .borrow()
            .parked
            .iter()
            .filter(|(_, w)| w.in_flight.is_none() && w.due_ms <= now)
            .filter_map(|(ctx, w)| w.exchange.again().map(|call| (*ctx, call)))
            .collect();
        let Some(backend) = &config.backend else {
            return;
        };
        let upstream = Upstream {
            cluster: &backend.cluster,
            authority: &backend.authority,
            timeout_ms: backend.timeout_ms,
        };
        for (context_id, call) in due {
            match host::dispatch(&upstream, &call) {
                Ok(token) => {
                    let mut waiters = shared.waiters.borrow_mut();
                    if let Some(waiter) = waiters.parked.get_mut(&context_id) {
                        waiter.in_flight = Some(token);
                    }
                    waiters.calls.insert(token, context_id);
                }
                Err(status) => {
                    log::error!(
                        "long poll: cannot call cluster {:?}: {status:?}",
                        backend.cluster
                    );
                    // Try again on a later tick.
                    if let Some(w) = shared.waiters.borrow_mut().parked.get_mut(&context_id) {
                        w.due_ms = now + 1000;
                    }
                }
            }
        }
    }

    /// The backend answered a long poll's later round: answer the request, or park it again.
    fn long_poll_answer(&mut self, token: u32, num_headers: usize, body_size: usize) {
        let shared = Rc::clone(&self.shared);
        let (status, body) = host::call_answer(num_headers, body_size);
        let mut waiters = shared.waiters.borrow_mut();
        let Some(context_id) = waiters.calls.remove(&token) else {
            return;
        };
        let Some(waiter) = waiters.parked.get_mut(&context_id) else {
            return;
        };
        waiter.in_flight = None;
        let Ok(config) = &shared.config else {
            return;
        };
        let now = host::now_ms();
        let next = waiter.exchange.on_answer(config, status, &body, now);
        let id = waiter.exchange.interaction_id().clone();
        let reply = match next {
            Next::Wait { after_ms } => {
                waiter.due_ms = now + after_ms;
                return;
            }
            Next::Reply(reply) => {
                respond::answered(&shared.stats, &reply, &id, "/events (long poll)");
                reply
            }
            Next::Refuse { refusal, detail } => {
                respond::refusal(&shared.stats, &refusal, detail.as_deref(), &id)
            }
            Next::Call(_) | Next::ReadBody { .. } | Next::Forward => {
                let refusal = ob_event_core::Refusal::new(
                    ob_event_core::ErrorKind::BackendBadAnswer,
                    "The event service answered unexpectedly",
                );
                respond::refusal(&shared.stats, &refusal, None, &id)
            }
        };
        waiters.parked.remove(&context_id);
        drop(waiters);
        // Answer on the request's own stream; if the client has gone, there is nothing to do.
        host::send_to(context_id, &reply);
    }
}

/// Retry pace of the data API before the first good load, and after a failure.
const DATA_RETRY_FIRST_MS: u64 = 2_000;
const DATA_RETRY_MS: u64 = 10_000;

impl Root {
    /// Install a snapshot another worker published; start a load when one is due and this worker wins the
    /// lease.
    fn refresh_subscriptions(&mut self) {
        let shared = Rc::clone(&self.shared);
        let mut subs = shared.subscriptions.borrow_mut();
        let Some(api) = subs.data_api.clone() else {
            return;
        };
        let now = host::now_ms();
        let (version, _) = host::shared(VERSION_KEY);
        let version = version.and_then(|v| String::from_utf8(v).ok());
        if version.is_some() && version != subs.version_seen {
            let (bytes, _) = host::shared(SNAPSHOT_KEY);
            match bytes.as_deref().map(Snapshot::from_bytes) {
                Some(Ok(snapshot)) => {
                    subs.loaded_at_ms = version
                        .as_deref()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(now);
                    subs.snapshot = Some(Rc::new(snapshot));
                }
                Some(Err(error)) => {
                    log::warn!("subscription data in shared memory is unusable ({error}); keeping what this worker has")
                }
                None => {}
            }
            subs.version_seen = version;
        }
        if subs.load.is_some() {
            // A load whose answers stopped coming (each call has its own timeout) is abandoned.
            if now > subs.last_attempt_ms + api.timeout_ms * 2 + 1000 {
                subs.load = None;
                drop(subs);
                self.data_load_failed("the data API did not answer every call", now);
            }
            return;
        }
        let due = match subs.snapshot {
            None => true,
            Some(_) => now >= subs.loaded_at_ms + api.refresh_interval_secs * 1000,
        };
        if !due {
            return;
        }
        let until = now / 1000 + api.timeout_ms.div_ceil(1000) * 2 + 1;
        if !self.take_lease(LEASE_KEY, now / 1000, until) {
            return;
        }
        let Ok(config) = &shared.config else {
            return;
        };
        let builder = SnapshotBuilder::new(config.apim.options.clone());
        let requests = builder.first_requests(&api.settings);
        let mut load = Load {
            builder,
            in_flight: Default::default(),
        };
        for request in requests {
            match self.data_api_call(&api, &request) {
                Ok(token) => {
                    load.in_flight.insert(token, request);
                }
                Err(why) => {
                    drop(subs);
                    self.data_load_failed(&why, now);
                    return;
                }
            }
        }
        subs.last_attempt_ms = now;
        subs.load = Some(load);
    }

    fn data_api_call(
        &self,
        api: &ob_event_core::config::DataApi,
        request: &DataApiRequest,
    ) -> Result<u32, String> {
        let mut headers: Vec<(&str, &str)> = vec![
            (":method", DataApiRequest::METHOD),
            (":path", request.path.as_str()),
            (":authority", api.authority.as_str()),
            (":scheme", "http"),
        ];
        headers.extend(
            request
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str())),
        );
        host::get(&api.cluster, &headers, api.timeout_ms).map_err(|status| {
            format!(
                "cannot call cluster {:?} ({status:?}); is it defined in Envoy?",
                api.cluster
            )
        })
    }

    /// One answer of the data API: take the page, ask for the next, and when every collection is complete
    /// build, publish and install the snapshot.
    fn data_api_answer(&mut self, token: u32, num_headers: usize, body_size: usize) {
        let shared = Rc::clone(&self.shared);
        let now = host::now_ms();
        let (status, body) = host::call_answer(num_headers, body_size);
        let mut subs = shared.subscriptions.borrow_mut();
        let Some(api) = subs.data_api.clone() else {
            return;
        };
        let Some(load) = subs.load.as_mut() else {
            return;
        };
        let Some(request) = load.in_flight.remove(&token) else {
            return;
        };
        match load.builder.accept(&api.settings, &request, status, &body) {
            Ok(Some(next)) => match self.data_api_call(&api, &next) {
                Ok(token) => {
                    load.in_flight.insert(token, next);
                }
                Err(why) => {
                    subs.load = None;
                    drop(subs);
                    self.data_load_failed(&why, now);
                }
            },
            Ok(None) => {
                if !load.in_flight.is_empty() || !load.builder.is_complete() {
                    return;
                }
                let Some(load) = subs.load.take() else {
                    return;
                };
                match load.builder.build() {
                    Ok(snapshot) => {
                        let summary = snapshot.summary();
                        let version = subscriptions::version_text(now);
                        match snapshot.to_bytes() {
                            Ok(bytes) => {
                                let published = host::set_shared(SNAPSHOT_KEY, &bytes, None)
                                    .and_then(|()| {
                                        host::set_shared(VERSION_KEY, version.as_bytes(), None)
                                    });
                                if published.is_err() {
                                    log::warn!("subscription data: could not publish to shared data; only this worker has it");
                                }
                                log::info!(
                                    "subscription data loaded from the APIM data API: {summary:?} ({} bytes)",
                                    bytes.len()
                                );
                            }
                            Err(error) => log::warn!("subscription data: {error}"),
                        }
                        // Free the lease: the next refresh is due one interval from now, whoever runs it.
                        let _ = host::set_shared(LEASE_KEY, b"0", None);
                        shared.stats.increment("subscription_data", "loaded");
                        subs.version_seen = Some(version);
                        subs.loaded_at_ms = now;
                        subs.snapshot = Some(Rc::new(snapshot));
                    }
                    Err(error) => {
                        drop(subs);
                        self.data_load_failed(&error.to_string(), now);
                    }
                }
            }
            Err(error) => {
                subs.load = None;
                drop(subs);
                self.data_load_failed(&error.to_string(), now);
            }
        }
    }

    /// A load failed: the snapshot in force stays; count, log, and pace the next attempt.
    fn data_load_failed(&mut self, why: &str, now_ms: u64) {
        self.shared
            .stats
            .increment("subscription_data", "load_failed");
        let loaded = self.shared.subscriptions.borrow().snapshot.is_some();
        let retry_ms = if loaded {
            DATA_RETRY_MS
        } else {
            DATA_RETRY_FIRST_MS
        };
        if loaded {
            log::warn!(
                "subscription data: load failed ({why}); the last good snapshot stays in force"
            );
        } else {
            log::error!("subscription data: load failed ({why}); none loaded yet, requests are answered 503");
        }
        let _ = host::set_shared(
            LEASE_KEY,
            ((now_ms + retry_ms) / 1000).to_string().as_bytes(),
            None,
        );
    }
}

impl RootContext for Root {
    fn on_http_call_response(&mut self, token_id: u32, num_headers: usize, body_size: usize) {
        if self.shared.waiters.borrow().calls.contains_key(&token_id) {
            self.long_poll_answer(token_id, num_headers, body_size);
        } else if self.shared.subscriptions.borrow().owns(token_id) {
            self.data_api_answer(token_id, num_headers, body_size);
        } else {
            self.jwks_answer(token_id, num_headers, body_size);
        }
    }

    fn on_configure(&mut self, plugin_configuration_size: usize) -> bool {
        let bytes = host::plugin_configuration(plugin_configuration_size);
        let config = Config::parse(&bytes);
        let auth = match &config {
            Ok(config) => {
                log::info!(
                    "ob-event-filter {} configured: base_path {:?}, {} issuer(s), {}",
                    env!("CARGO_PKG_VERSION"),
                    config.base_path,
                    config.issuers.len(),
                    match &config.backend {
                        Some(backend)
                            if config.forward == ob_event_core::config::Forward::Backend =>
                            format!("backend cluster {:?}", backend.cluster),
                        _ => "forwarding to the route".to_string(),
                    }
                );
                Some(auth_for(config))
            }
            Err(error) => {
                log::error!(
                    "ob-event-filter configuration REFUSED, every request will be answered 500 until it is fixed: {error}"
                );
                None
            }
        };
        let has_remote = auth
            .as_ref()
            .is_some_and(|a| !a.borrow().remotes.is_empty());
        let long_polls = config.as_ref().is_ok_and(|c| c.long_poll.max_wait_ms > 0);
        // Parked long polls of the previous configuration stay with it: they are answered by its rules.
        let waiters = Rc::clone(&self.shared.waiters);
        let subscriptions = match &config {
            Ok(config) => Subscriptions::new(config),
            Err(_) => Subscriptions {
                snapshot: None,
                data_api: None,
                version_seen: None,
                load: None,
                last_attempt_ms: 0,
                loaded_at_ms: 0,
            },
        };
        let pulls_data = subscriptions.data_api.is_some();
        self.shared = Rc::new(Shared {
            config,
            stats: Stats::new(),
            auth,
            waiters,
            subscriptions: Rc::new(RefCell::new(subscriptions)),
        });
        // The first fetches happen on the first tick (a call dispatched from on_configure never came back
        // with the proxy-wasm SDK; the tick keeps one path for first and later fetches).
        if has_remote || long_polls || pulls_data {
            host::set_tick_ms(TICK_MS);
        }
        // Keep the plugin loaded even with a bad configuration: the filter then answers every request itself
        // with an OB error carrying the interaction id (fail closed), rather than Envoy's bare 503.
        true
    }

    fn on_tick(&mut self) {
        self.refresh_keys();
        self.refresh_subscriptions();
        self.poll_again();
    }

    fn create_http_context(&self, context_id: u32) -> Box<dyn HttpContext> {
        Box::new(Request::new(Rc::clone(&self.shared), context_id))
    }
}
