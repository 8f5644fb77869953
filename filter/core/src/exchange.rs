//! One request's exchange with the storage backend, as a pure state machine: the adapter feeds it the
//! request head, the body and the backend's answers, and does what it says next (read the body, call the
//! backend, wait, answer). Every decision of the Event Notification API flow after the identity step is
//! here; the adapter only performs I/O.

use crate::backend::{self, BackendCall, CallContext, CLIENT_ID_HEADER};
use crate::config::{ApplicationHeaders, Config, Forward};
use crate::endpoints::Endpoint;
use crate::errors::{ErrorKind, Refusal};
use crate::interaction::InteractionId;
use crate::negotiation;
use crate::polling::{self, PollRequest};
use crate::reply::LocalReply;
use crate::subscription_data::{Admission, KeyType};
use crate::subscriptions;
use crate::token::VerifiedToken;
use serde_json::{json, Value};
use std::borrow::Cow;

/// What the request head says beyond method and path.
#[derive(Debug, Clone, Copy, Default)]
pub struct Head<'a> {
    pub accept: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub authority: Option<&'a str>,
}

/// What the adapter does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Answer with this refusal (render it, count it, log it with `detail` when given).
    Refuse {
        refusal: Refusal,
        detail: Option<String>,
    },
    /// Answer with this reply.
    Reply(LocalReply),
    /// Read the whole request body, then call [`Exchange::on_body`].
    ReadBody { limit: usize },
    /// Call the backend, then [`Exchange::on_answer`] with its answer.
    Call(BackendCall),
    /// A long poll found nothing yet: after `after_ms`, call the backend with [`Exchange::again`].
    Wait { after_ms: u64 },
    /// Route mode: let the request continue to Envoy's route (the headers of [`Exchange::forward_headers`]
    /// were set when the request head was checked).
    Forward,
}

impl From<Refusal> for Next {
    fn from(refusal: Refusal) -> Self {
        Next::Refuse {
            refusal,
            detail: None,
        }
    }
}

/// A long poll in progress.
#[derive(Debug, Clone)]
struct LongPoll {
    deadline_ms: u64,
    interval_ms: u64,
    /// The re-poll: the same `maxEvents`, no acknowledgements (they were applied by the first call).
    again: BackendCall,
}

/// The application a request was admitted for, as the backend (or the route) is told it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub application_id: i64,
    pub name: String,
    pub key_type: KeyType,
}

impl Caller {
    /// From the subscription decision.
    pub fn of(admission: &Admission<'_>) -> Caller {
        Caller {
            application_id: admission.application_id(),
            name: admission.name().to_string(),
            key_type: admission.key_type,
        }
    }

    /// The application headers (names from `apim.headers`).
    fn headers<'a>(&'a self, names: &'a ApplicationHeaders) -> [(&'a str, Cow<'a, str>); 3] {
        [
            (
                names.application_id.as_str(),
                Cow::Owned(self.application_id.to_string()),
            ),
            (names.application_name.as_str(), Cow::Borrowed(&self.name)),
            (
                names.key_type.as_str(),
                Cow::Borrowed(self.key_type.as_str()),
            ),
        ]
    }
}

/// The state of one request after its identity was established. It keeps what it learnt from the request
/// (who, which endpoint, the links' base) and reads everything else from the configuration it is handed at
/// each step, so starting one copies nothing of the configuration.
#[derive(Debug, Clone)]
pub struct Exchange {
    endpoint: Endpoint,
    id: InteractionId,
    client_id: String,
    caller: Option<Caller>,
    /// Where links in the replies point (backend mode only: in route mode the upstream writes the replies).
    api_base: String,
    /// Route mode: after the checks, the request goes on to Envoy's route.
    route: bool,
    long_poll: Option<LongPoll>,
}

impl Exchange {
    /// Start the exchange for a request whose token verified. Checks `Accept` and, for POST/PUT,
    /// `Content-Type`; then asks for the body or calls the backend.
    pub fn start(
        config: &Config,
        endpoint: Endpoint,
        id: InteractionId,
        identity: &VerifiedToken,
        caller: Option<Caller>,
        head: Head<'_>,
    ) -> (Exchange, Next) {
        let route = config.forward == Forward::Route;
        let api_base = match (&config.public_base_url, route) {
            (_, true) => String::new(),
            (Some(origin), false) => format!("{origin}{}", config.base_path),
            (None, false) => {
                subscriptions::api_base(head.authority.unwrap_or_default(), &config.base_path)
            }
        };
        let exchange = Exchange {
            endpoint,
            id,
            client_id: identity.consumer_key.clone(),
            caller,
            api_base,
            route,
            long_poll: None,
        };
        let next = exchange.first_step(config, head);
        (exchange, next)
    }

    fn first_step(&self, config: &Config, head: Head<'_>) -> Next {
        if let Err(refusal) = negotiation::check_accept(head.accept) {
            return refusal.into();
        }
        match &self.endpoint {
            Endpoint::CreateSubscription | Endpoint::UpdateSubscription { .. } => {
                if let Err(refusal) = negotiation::check_content_type(head.content_type) {
                    return refusal.into();
                }
                Next::ReadBody {
                    limit: config.subscriptions.body_limit_bytes,
                }
            }
            Endpoint::PollEvents => {
                if let Err(refusal) = negotiation::check_content_type(head.content_type) {
                    return refusal.into();
                }
                Next::ReadBody {
                    limit: config.polling.body_limit_bytes,
                }
            }
            Endpoint::ListSubscriptions if self.route => Next::Forward,
            Endpoint::ListSubscriptions => self.call(config, backend::list_subscriptions_call),
            Endpoint::DeleteSubscription { id } => {
                if let Err(refusal) = subscriptions::check_subscription_id(id) {
                    return refusal.into();
                }
                if self.route {
                    return Next::Forward;
                }
                self.call(config, |ctx| backend::delete_subscription_call(ctx, id))
            }
        }
    }

    fn call(
        &self,
        config: &Config,
        build: impl FnOnce(&CallContext<'_>) -> Result<BackendCall, Refusal>,
    ) -> Next {
        match self.build(config, build) {
            Ok(call) => Next::Call(call),
            Err(refusal) => refusal.into(),
        }
    }

    /// A backend call with the application headers added.
    fn build(
        &self,
        config: &Config,
        build: impl FnOnce(&CallContext<'_>) -> Result<BackendCall, Refusal>,
    ) -> Result<BackendCall, Refusal> {
        let Some(backend) = &config.backend else {
            return Err(Refusal::new(
                ErrorKind::ConfigurationInvalid,
                "The gateway is not configured correctly; the request was not processed",
            ));
        };
        let context = CallContext {
            base_path: &backend.base_path,
            client_id: &self.client_id,
            interaction_id: &self.id,
            credentials: &backend.credentials,
        };
        let mut call = build(&context)?;
        if let Some(caller) = &self.caller {
            call.headers.extend(
                caller
                    .headers(&config.apim.headers)
                    .into_iter()
                    .map(|(name, value)| (name.to_string(), value.into_owned())),
            );
        }
        Ok(call)
    }

    /// The body exceeded the limit while it was arriving.
    pub fn body_too_large(&self, limit: usize) -> Next {
        Refusal::new(
            ErrorKind::InvalidFormat,
            format!("The request body is larger than {limit} bytes"),
        )
        .because("body_too_large")
        .into()
    }

    /// Route mode: the request headers to set before the request goes on — the verified consumer key as
    /// `x-wso2-client-id` (replacing anything the TPP sent) and, with `apim.headers.on_route`, the
    /// application headers. (The interaction id is the adapter's: it sets it only when the request does
    /// not already carry exactly it.)
    pub fn forward_headers<'a>(&'a self, config: &'a Config) -> Vec<(&'a str, Cow<'a, str>)> {
        let mut headers = vec![(CLIENT_ID_HEADER, Cow::Borrowed(self.client_id.as_str()))];
        if config.apim.headers.on_route {
            if let Some(caller) = &self.caller {
                headers.extend(caller.headers(&config.apim.headers));
            }
        }
        headers
    }

    /// Route mode: the application headers a TPP may not send on — removed from the forwarded request
    /// when present and not set by [`Exchange::forward_headers`].
    pub fn forward_removed_headers(config: &Config) -> impl Iterator<Item = &str> {
        let names = &config.apim.headers;
        (!names.on_route)
            .then_some([
                names.application_id.as_str(),
                names.application_name.as_str(),
                names.key_type.as_str(),
            ])
            .into_iter()
            .flatten()
    }

    /// Whether the request goes on to Envoy's route after the checks.
    pub fn is_route_mode(&self) -> bool {
        self.route
    }

    /// The whole request body arrived.
    pub fn on_body(&mut self, config: &Config, body: &[u8], now_ms: u64) -> Next {
        if self.route {
            return match self.validate_body(config, body) {
                Ok(()) => Next::Forward,
                Err(refusal) => refusal.into(),
            };
        }
        match self.endpoint.clone() {
            Endpoint::PollEvents => {
                let request = match polling::parse_poll(body, &config.polling) {
                    Ok(request) => request,
                    Err(refusal) => return refusal.into(),
                };
                let long = config.long_poll.max_wait_ms > 0
                    && request.wants_long_poll(config.long_poll.when_absent);
                let first = match self.build(config, |ctx| {
                    backend::poll_call(ctx, &request.backend_json())
                }) {
                    Ok(call) => call,
                    Err(refusal) => return refusal.into(),
                };
                if long {
                    if let Ok(again) = self.build(config, |ctx| {
                        backend::poll_call(ctx, &repoll_json(&request))
                    }) {
                        self.long_poll = Some(LongPoll {
                            deadline_ms: now_ms.saturating_add(config.long_poll.max_wait_ms),
                            interval_ms: config.long_poll.interval_ms,
                            again,
                        });
                    }
                }
                Next::Call(first)
            }
            Endpoint::CreateSubscription => {
                match subscriptions::parse_create(body, &config.subscriptions) {
                    Ok(input) => self.call(config, |ctx| {
                        backend::create_subscription_call(ctx, &input.backend_json())
                    }),
                    Err(refusal) => refusal.into(),
                }
            }
            Endpoint::UpdateSubscription { id } => {
                match subscriptions::parse_update(body, &id, &config.subscriptions) {
                    Ok(input) => self.call(config, |ctx| {
                        backend::update_subscription_call(ctx, &id, &input.backend_json())
                    }),
                    Err(refusal) => refusal.into(),
                }
            }
            // GET and DELETE have no body to read: never asked for.
            Endpoint::ListSubscriptions | Endpoint::DeleteSubscription { .. } => {
                Refusal::new(ErrorKind::InvalidFormat, "No body is expected").into()
            }
        }
    }

    /// Route mode: the body's checks only.
    fn validate_body(&self, config: &Config, body: &[u8]) -> Result<(), Refusal> {
        match &self.endpoint {
            Endpoint::PollEvents => polling::parse_poll(body, &config.polling).map(|_| ()),
            Endpoint::CreateSubscription => {
                subscriptions::parse_create(body, &config.subscriptions).map(|_| ())
            }
            Endpoint::UpdateSubscription { id } => {
                subscriptions::parse_update(body, id, &config.subscriptions).map(|_| ())
            }
            Endpoint::ListSubscriptions | Endpoint::DeleteSubscription { .. } => Ok(()),
        }
    }

    /// The backend answered (`status` is Envoy's synthetic 503/504 when it could not be reached in time).
    pub fn on_answer(&mut self, config: &Config, status: u16, body: &[u8], now_ms: u64) -> Next {
        let id = &self.id;
        let result = match &self.endpoint {
            Endpoint::PollEvents => {
                polling::parse_poll_answer(status, body).map(|answer| match &self.long_poll {
                    Some(wait)
                        if answer.is_empty()
                            && now_ms.saturating_add(wait.interval_ms) < wait.deadline_ms =>
                    {
                        Next::Wait {
                            after_ms: wait.interval_ms,
                        }
                    }
                    _ => Next::Reply(polling::poll_reply(&answer, &config.polling, id)),
                })
            }
            Endpoint::CreateSubscription => subscriptions::parse_backend_subscription(status, body)
                .map(|s| {
                    Next::Reply(subscriptions::subscription_reply(
                        &s,
                        201,
                        &self.api_base,
                        id,
                    ))
                }),
            Endpoint::UpdateSubscription { .. } => {
                subscriptions::parse_backend_subscription(status, body).map(|s| {
                    Next::Reply(subscriptions::subscription_reply(
                        &s,
                        200,
                        &self.api_base,
                        id,
                    ))
                })
            }
            Endpoint::ListSubscriptions => subscriptions::parse_backend_subscriptions(status, body)
                .map(|list| {
                    Next::Reply(subscriptions::subscriptions_reply(
                        &list,
                        &self.api_base,
                        id,
                    ))
                }),
            Endpoint::DeleteSubscription { .. } => {
                subscriptions::parse_backend_delete(status, body)
                    .map(|()| Next::Reply(subscriptions::deleted_reply(id)))
            }
        };
        result.unwrap_or_else(|refusal| {
            let detail = matches!(
                refusal.kind,
                ErrorKind::BackendBadAnswer
                    | ErrorKind::BackendUnavailable
                    | ErrorKind::BackendTimeout
            )
            .then(|| backend::log_detail(status, body));
            Next::Refuse { refusal, detail }
        })
    }

    /// The backend call of the next round of a long poll.
    pub fn again(&self) -> Option<BackendCall> {
        self.long_poll.as_ref().map(|w| w.again.clone())
    }

    pub fn interaction_id(&self) -> &InteractionId {
        &self.id
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}

/// What a long poll asks on its later rounds: the same page size, nothing acknowledged again.
fn repoll_json(request: &PollRequest) -> Value {
    match request.max_events {
        Some(n) => json!({ "maxEvents": n, "returnImmediately": true }),
        None => json!({ "returnImmediately": true }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SubscriptionSource;
    use crate::subscription_data;
    use crate::token::Alg;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn config(route: bool, on_route: bool) -> Config {
        let mut value = json!({
            "issuers": [{ "issuer": "https://is.example/oauth2/token", "jwks": {"keys": [{
                "kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig",
                "x": "otoPguBCy_DYccfeX4bSQy5ynOVL26KlNlnZgGp7RlM",
                "y": "J2BJNK_0IwW-Pk-gSmRsCXT8gjwNd_9263ZQJrRE9c8"
            }]}}],
            "backend": { "cluster": "store", "username": "u", "password": "p" },
            "apim": {
                "subscription_api": {"context": "/open-banking/v3.1/event-subscriptions"},
                "polling_api": {"context": "/open-banking/v3.1/events"},
                "headers": {"on_route": on_route},
                "source": {"type": "static", "applications": [
                    {"name": "TPP one", "id": 7, "keys": [{"consumer_key": "ck", "key_type": "SANDBOX"}],
                     "subscriptions": [{"state": "UNBLOCKED"}]}
                ]}
            }
        });
        if route {
            value["forward"] = json!("route");
        }
        Config::parse(value.to_string().as_bytes()).unwrap()
    }

    fn start(config: &Config) -> (Exchange, Next) {
        let identity = VerifiedToken {
            issuer: "https://is.example/oauth2/token".into(),
            consumer_key: "ck".into(),
            scopes: ["accounts".to_string()].into(),
            x5t_s256: None,
            expires_at: u64::MAX,
            subject: None,
            token_id: None,
            alg: Alg::ES256,
            key_id: None,
        };
        let SubscriptionSource::Static(snapshot) = &config.apim.source else {
            panic!("static source")
        };
        let admission = subscription_data::admit(
            Some(snapshot),
            "ck",
            None,
            Some(config.apim.api_for(&Endpoint::ListSubscriptions)),
        )
        .unwrap();
        Exchange::start(
            config,
            Endpoint::ListSubscriptions,
            InteractionId::new_v4([1; 16]),
            &identity,
            Some(Caller::of(&admission)),
            Head::default(),
        )
    }

    fn owned(headers: Vec<(&str, Cow<'_, str>)>) -> Vec<(String, String)> {
        headers
            .into_iter()
            .map(|(n, v)| (n.to_string(), v.into_owned()))
            .collect()
    }

    #[test]
    fn route_mode_forwards_the_verified_client_id_and_strips_application_headers_by_default() {
        let config = config(true, false);
        let (exchange, next) = start(&config);
        assert_eq!(next, Next::Forward);
        assert_eq!(
            owned(exchange.forward_headers(&config)),
            vec![("x-wso2-client-id".to_string(), "ck".to_string())]
        );
        assert_eq!(
            Exchange::forward_removed_headers(&config).collect::<Vec<_>>(),
            [
                "x-wso2-application-id",
                "x-wso2-application-name",
                "x-wso2-key-type"
            ]
        );
    }

    #[test]
    fn route_mode_forwards_the_application_headers_when_asked() {
        let config = config(true, true);
        let (exchange, _) = start(&config);
        assert_eq!(
            owned(exchange.forward_headers(&config)),
            vec![
                ("x-wso2-client-id".to_string(), "ck".to_string()),
                ("x-wso2-application-id".to_string(), "7".to_string()),
                ("x-wso2-application-name".to_string(), "TPP one".to_string()),
                ("x-wso2-key-type".to_string(), "SANDBOX".to_string()),
            ]
        );
        assert_eq!(Exchange::forward_removed_headers(&config).count(), 0);
    }

    #[test]
    fn backend_calls_carry_the_application_headers_and_the_configured_credentials() {
        let config = config(false, false);
        let (_, next) = start(&config);
        let Next::Call(call) = next else {
            panic!("a backend call expected, got {next:?}")
        };
        let header = |name: &str| {
            call.headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header("x-wso2-application-id"), Some("7"));
        assert_eq!(header("x-wso2-application-name"), Some("TPP one"));
        assert_eq!(header("x-wso2-key-type"), Some("SANDBOX"));
        assert_eq!(header("authorization"), Some("Basic dTpw"));
    }
}
