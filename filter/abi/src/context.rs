//! The callbacks Envoy calls (exports) and the contexts they reach: one root context per plugin
//! configuration, one HTTP context per request.
//!
//! Only what the filter uses is exported. Envoy does not call a callback the module lacks (`on_log`,
//! `on_done`, `on_response_body`, the trailers, the network-filter callbacks): it behaves as if the module
//! had answered "continue" / "done".
//!
//! Callouts: the host makes every `http_call` on behalf of the root context and delivers its answer to the
//! root context's id, whatever context asked. So the token of each call is recorded with the context that
//! was running when it was made, and the answer goes to that context, made the effective one (its local
//! reply then answers its own stream). The answer to a request that has gone meanwhile is dropped.
//!
//! Robustness: a context is looked up by id and held through an `Rc` while its callback runs, so a
//! callback that re-enters (or a context deleted meanwhile) finds the context busy or gone and gets the
//! default answer, never a `RefCell` panic. An HTTP callback for a context the module does not know (its
//! root was never created) is answered 500 locally: fail closed.

use crate::host;
use crate::logger;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;

/// What a stream callback tells Envoy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Go on to the next filter.
    Continue,
    /// Stop here (headers: `StopIteration`; body: `StopIterationAndBuffer`).
    Pause,
}

impl Action {
    fn code(self) -> u32 {
        match self {
            Action::Continue => 0,
            Action::Pause => 1,
        }
    }
}

/// The context of one plugin configuration, for the life of that configuration in this worker.
pub trait RootContext {
    /// The plugin configuration arrived (read it with `host::buffer(BufferType::PluginConfiguration, …)`).
    /// `false` refuses it.
    fn on_configure(&mut self, configuration_size: usize) -> bool;
    /// The tick set with `host::set_tick_period_ms`.
    fn on_tick(&mut self) {}
    /// The answer to a call this context made with `host::http_call`.
    fn on_http_call_response(&mut self, _token: u32, _headers: usize, _body_size: usize) {}
    /// A new request of this configuration.
    fn create_http_context(&self, context_id: u32) -> Box<dyn HttpContext>;
}

/// The context of one request.
pub trait HttpContext {
    fn on_request_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        Action::Continue
    }
    fn on_request_body(&mut self, _body_size: usize, _end_of_stream: bool) -> Action {
        Action::Continue
    }
    fn on_response_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        Action::Continue
    }
    /// The answer to a call this context made with `host::http_call`.
    fn on_http_call_response(&mut self, _token: u32, _headers: usize, _body_size: usize) {}
    /// The request is over (answered, or the client went away); the context is dropped after this.
    fn on_delete(&mut self) {}
}

/// Creates the root context of a new plugin configuration.
pub type NewRoot = fn(context_id: u32) -> Box<dyn RootContext>;

type Shared<T> = Rc<RefCell<Box<T>>>;

/// Context ids are small sequential numbers chosen by the host: hashed by a multiply, not SipHash.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u32(&mut self, id: u32) {
        self.0 = u64::from(id).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type ById<T> = HashMap<u32, Shared<T>, BuildHasherDefault<IdHasher>>;

#[derive(Default)]
struct Contexts {
    new_root: Cell<Option<NewRoot>>,
    roots: RefCell<ById<dyn RootContext>>,
    requests: RefCell<ById<dyn HttpContext>>,
    /// The context whose callback is running (the one a callout made now belongs to).
    active: Cell<u32>,
    /// Callout token → the context that made the call.
    callouts: RefCell<HashMap<u32, u32, BuildHasherDefault<IdHasher>>>,
}

/// Record that the callout `token` was made by the running context (called by `host::http_call`).
pub(crate) fn register_callout(token: u32) {
    CONTEXTS.with(|c| {
        if let Ok(mut callouts) = c.callouts.try_borrow_mut() {
            callouts.insert(token, c.active.get());
        }
    });
}

fn activate(id: u32) {
    CONTEXTS.with(|c| c.active.set(id));
}

thread_local! {
    static CONTEXTS: Contexts = Contexts::default();
}

/// Register the constructor of root contexts (done by [`crate::main!`]).
pub fn set_root_context(new_root: NewRoot) {
    CONTEXTS.with(|c| c.new_root.set(Some(new_root)));
}

fn root(id: u32) -> Option<Shared<dyn RootContext>> {
    CONTEXTS.with(|c| c.roots.try_borrow().ok()?.get(&id).cloned())
}

fn request(id: u32) -> Option<Shared<dyn HttpContext>> {
    CONTEXTS.with(|c| c.requests.try_borrow().ok()?.get(&id).cloned())
}

/// Why a callback could not reach its request.
enum Unreached {
    /// The module never created this request's context (its root did not exist).
    Unknown,
    /// The request's own callback is running (a re-entrant call from the host).
    Busy,
}

/// Run `f` on request `id`.
fn with_request<R>(id: u32, f: impl FnOnce(&mut dyn HttpContext) -> R) -> Result<R, Unreached> {
    let context = request(id).ok_or(Unreached::Unknown)?;
    let mut context = context.try_borrow_mut().map_err(|_| Unreached::Busy)?;
    activate(id);
    Ok(f(context.as_mut()))
}

fn with_root<R>(id: u32, f: impl FnOnce(&mut dyn RootContext) -> R) -> Option<R> {
    let context = root(id)?;
    let mut context = context.try_borrow_mut().ok()?;
    activate(id);
    Some(f(context.as_mut()))
}

/// A stream callback that could not reach its request: never let the request pass. Unknown: answer it
/// 500. Busy: stop (the callback already running answers it).
fn unreached(id: u32, why: Unreached) -> u32 {
    match why {
        Unreached::Unknown => {
            log::error!("ob-event-filter: no context for request {id}; answered 500 (fail closed)");
            let _ = host::send_local_response(500, "ob_event_filter_no_context", &[], None);
        }
        Unreached::Busy => log::error!("ob-event-filter: request {id} re-entered; stopped"),
    }
    Action::Pause.code()
}

#[no_mangle]
pub extern "C" fn proxy_on_context_create(context_id: u32, root_context_id: u32) {
    CONTEXTS.with(|c| {
        if root_context_id == 0 {
            if let Some(new_root) = c.new_root.get() {
                let root = Rc::new(RefCell::new(new_root(context_id)));
                if let Ok(mut roots) = c.roots.try_borrow_mut() {
                    roots.insert(context_id, root);
                }
            }
            return;
        }
        let created = root(root_context_id).and_then(|root| {
            let root = root.try_borrow().ok()?;
            Some(root.create_http_context(context_id))
        });
        match (created, c.requests.try_borrow_mut()) {
            (Some(request), Ok(mut requests)) => {
                requests.insert(context_id, Rc::new(RefCell::new(request)));
            }
            _ => log::error!(
                "ob-event-filter: could not create the context of request {context_id} (root {root_context_id})"
            ),
        }
    })
}

#[no_mangle]
pub extern "C" fn proxy_on_configure(context_id: u32, configuration_size: usize) -> bool {
    logger::follow_host_level();
    with_root(context_id, |root| root.on_configure(configuration_size)).unwrap_or(false)
}

#[no_mangle]
pub extern "C" fn proxy_on_tick(context_id: u32) {
    with_root(context_id, |root| root.on_tick());
}

#[no_mangle]
pub extern "C" fn proxy_on_request_headers(context_id: u32, headers: usize, eos: bool) -> u32 {
    with_request(context_id, |r| r.on_request_headers(headers, eos).code())
        .unwrap_or_else(|why| unreached(context_id, why))
}

#[no_mangle]
pub extern "C" fn proxy_on_request_body(context_id: u32, body_size: usize, eos: bool) -> u32 {
    with_request(context_id, |r| r.on_request_body(body_size, eos).code())
        .unwrap_or_else(|why| unreached(context_id, why))
}

#[no_mangle]
pub extern "C" fn proxy_on_response_headers(context_id: u32, headers: usize, eos: bool) -> u32 {
    // A response on its way out is not stopped for want of a context: the request was answered already.
    with_request(context_id, |r| r.on_response_headers(headers, eos).code())
        .unwrap_or(Action::Continue.code())
}

#[no_mangle]
pub extern "C" fn proxy_on_http_call_response(
    context_id: u32,
    token: u32,
    headers: usize,
    body_size: usize,
    _trailers: usize,
) {
    let caller = CONTEXTS
        .with(|c| {
            c.callouts
                .try_borrow_mut()
                .ok()
                .and_then(|mut callouts| callouts.remove(&token))
        })
        .unwrap_or(context_id);
    if request(caller).is_some() {
        // The request's local reply must go to its own stream, not to the root's.
        if host::set_effective_context(caller).is_ok() {
            let _ = with_request(caller, |r| {
                r.on_http_call_response(token, headers, body_size)
            });
        }
        return;
    }
    with_root(caller, |root| {
        root.on_http_call_response(token, headers, body_size)
    });
}

#[no_mangle]
pub extern "C" fn proxy_on_delete(context_id: u32) {
    let request = CONTEXTS.with(|c| {
        c.requests
            .try_borrow_mut()
            .ok()
            .and_then(|mut requests| requests.remove(&context_id))
    });
    match request {
        Some(request) => {
            if let Ok(mut request) = request.try_borrow_mut() {
                request.on_delete();
            }
        }
        None => {
            CONTEXTS.with(|c| {
                if let Ok(mut roots) = c.roots.try_borrow_mut() {
                    roots.remove(&context_id);
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell as Cell2;

    thread_local! {
        static SEEN: Cell2<Vec<String>> = const { Cell2::new(Vec::new()) };
    }

    fn seen(event: String) {
        SEEN.with(|s| s.borrow_mut().push(event));
    }

    struct Root;
    struct Request(u32);

    impl RootContext for Root {
        fn on_configure(&mut self, size: usize) -> bool {
            seen(format!("configure {size}"));
            true
        }
        fn on_tick(&mut self) {
            // A callout made from the tick: the host would return this token.
            register_callout(500);
        }
        fn on_http_call_response(&mut self, token: u32, headers: usize, body_size: usize) {
            seen(format!("root answer {token} {headers} {body_size}"));
        }
        fn create_http_context(&self, context_id: u32) -> Box<dyn HttpContext> {
            Box::new(Request(context_id))
        }
    }

    impl HttpContext for Request {
        fn on_request_headers(&mut self, headers: usize, _eos: bool) -> Action {
            seen(format!("headers {} {headers}", self.0));
            if self.0 == 3 {
                // Re-entering the same request while it runs: the inner call gets the default.
                let inner = proxy_on_request_headers(3, 0, false);
                seen(format!("inner {inner}"));
            }
            Action::Pause
        }
        fn on_delete(&mut self) {
            seen(format!("delete {}", self.0));
        }
    }

    #[test]
    fn a_callout_answer_goes_to_the_context_that_made_the_call() {
        set_root_context(|_| Box::new(Root));
        proxy_on_context_create(10, 0);
        proxy_on_tick(10);
        // The host delivers every answer to the root's id; the token decides.
        proxy_on_http_call_response(10, 500, 3, 7, 0);
        // An answer to a token nobody registered goes to the context the host named.
        proxy_on_http_call_response(10, 501, 0, 0, 0);
        // To a context that does not exist: dropped.
        proxy_on_http_call_response(11, 502, 0, 0, 0);
        let events = SEEN.with(|s| s.borrow().clone());
        assert!(
            events.contains(&"root answer 500 3 7".to_string()),
            "{events:?}"
        );
        assert!(
            events.contains(&"root answer 501 0 0".to_string()),
            "{events:?}"
        );
        assert!(!events.iter().any(|e| e.contains("502")), "{events:?}");
    }

    #[test]
    fn callbacks_reach_their_contexts_and_never_panic() {
        set_root_context(|_| Box::new(Root));
        proxy_on_context_create(1, 0);
        assert!(proxy_on_configure(1, 42));
        assert!(!proxy_on_configure(99, 1), "an unknown root refuses");
        proxy_on_context_create(2, 1);
        assert_eq!(proxy_on_request_headers(2, 7, false), 1);
        assert_eq!(proxy_on_response_headers(2, 3, false), 0);
        proxy_on_context_create(3, 1);
        assert_eq!(proxy_on_request_headers(3, 1, false), 1);
        proxy_on_delete(2);
        proxy_on_delete(2);
        // A request whose root does not exist is never created; its callbacks fail closed (Pause).
        proxy_on_context_create(4, 77);
        assert_eq!(proxy_on_request_headers(4, 1, false), 1);
        proxy_on_http_call_response(4, 9, 0, 0, 0);
        proxy_on_delete(1);
        assert!(!proxy_on_configure(1, 1), "the root is gone");
        let events = SEEN.with(|s| s.borrow().clone());
        assert_eq!(
            events,
            vec![
                "configure 42",
                "headers 2 7",
                "headers 3 1",
                // Busy: stopped (Pause) — no panic, no second borrow, no second answer.
                "inner 1",
                "delete 2",
            ]
        );
    }
}
