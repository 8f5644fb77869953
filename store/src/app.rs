//! The HTTP application: shared state, routes, `/health`, `/jwks` and the request log.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::watch;

use crate::auth::{self, Credentials};
use crate::config::Config;
use crate::errors::ApiError;
use crate::sets::SetSigner;
use crate::storage::Storage;
use crate::{notifications, polling, subscriptions};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub storage: Storage,
    pub signer: Arc<SetSigner>,
    pub credentials: Credentials,
    /// Bumped by every create-events on this instance; long polls wait on it.
    pub published: watch::Sender<u64>,
    /// Turns true when shutdown starts; long polls then answer at once.
    pub stopping: watch::Receiver<bool>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(
        config: Config,
        storage: Storage,
        signer: SetSigner,
        stopping: watch::Receiver<bool>,
    ) -> Self {
        let credentials = Credentials::new(&config.auth.username, &config.auth.password);
        Self(Arc::new(Inner {
            config,
            storage,
            signer: Arc::new(signer),
            credentials,
            published: watch::Sender::new(0),
            stopping,
        }))
    }
}

/// All routes under the configured base path.
pub fn router(state: AppState) -> Router {
    let protected = Router::new()
        .route("/create-events", post(notifications::create_events))
        .route("/events", post(polling::poll))
        // WSO2 serves any sub-path of /events as well (`@Path("/{s:.*}")`).
        .route("/events/{*rest}", post(polling::poll))
        .route(
            "/subscription",
            post(subscriptions::create).get(subscriptions::list),
        )
        .route(
            "/subscription/",
            post(subscriptions::create).get(subscriptions::list),
        )
        .route(
            "/subscription/type/{event_type}",
            get(subscriptions::list_by_type),
        )
        .route(
            "/subscription/{id}",
            get(subscriptions::read)
                .put(subscriptions::update)
                .delete(subscriptions::delete),
        )
        .route_layer(from_fn_with_state(state.clone(), auth::require_basic));
    let api = Router::new()
        .route("/health", get(health))
        .route("/jwks", get(jwks))
        .merge(protected)
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() });
    let base = state.config.base_path.clone();
    let app = if base.is_empty() {
        api
    } else {
        Router::new().nest(&base, api)
    };
    app.fallback(|| async { ApiError::no_such_path() })
        .layer(from_fn(log_requests))
        .with_state(state)
}

/// 200 `{"status":"UP"}` when the database answers within 2 s, else 503.
async fn health(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(Duration::from_secs(2), state.storage.ping()).await {
        Ok(Ok(())) => json_response(
            StatusCode::OK,
            serde_json::json!({"status": "UP", "database": state.storage.kind()}).to_string(),
        ),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health: database unreachable");
            down(&state)
        }
        Err(_) => {
            tracing::warn!("health: database did not answer within 2 s");
            down(&state)
        }
    }
}

fn down(state: &AppState) -> Response {
    json_response(
        StatusCode::SERVICE_UNAVAILABLE,
        serde_json::json!({"status": "DOWN", "database": state.storage.kind()}).to_string(),
    )
}

/// The public SET-signing key, as a JWK Set.
async fn jwks(State(state): State<AppState>) -> Response {
    let mut response = json_response(StatusCode::OK, state.signer.jwks().to_string());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jwk-set+json"),
    );
    response
}

/// A response with a JSON body.
pub fn json_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// One structured log line per request.
async fn log_requests(request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let client_id = request
        .headers()
        .get(crate::request::CLIENT_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let elapsed_ms = start.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::error!(%method, %path, status, client_id, elapsed_ms, "request");
    } else {
        tracing::info!(%method, %path, status, client_id, elapsed_ms, "request");
    }
    response
}
