//! Long polls in progress in this worker. A poll that found nothing is parked here by its HTTP context;
//! the root context asks the backend again on its tick and answers the request when events arrive or the
//! wait ends. A request whose client went away is removed (its HTTP context's `on_done`), so it costs
//! nothing further.

use ob_event_core::exchange::Exchange;
use std::collections::HashMap;

pub struct Waiter {
    pub exchange: Exchange,
    /// When to ask the backend again (ms since the epoch).
    pub due_ms: u64,
    /// The token of the root's call in flight, if any.
    pub in_flight: Option<u32>,
}

#[derive(Default)]
pub struct Waiters {
    /// By HTTP context id.
    pub parked: HashMap<u32, Waiter>,
    /// Call token → HTTP context id.
    pub calls: HashMap<u32, u32>,
}

impl Waiters {
    pub fn park(&mut self, context_id: u32, exchange: Exchange, due_ms: u64) {
        self.parked.insert(
            context_id,
            Waiter {
                exchange,
                due_ms,
                in_flight: None,
            },
        );
    }

    /// The client went away (or the request ended): forget it.
    pub fn forget(&mut self, context_id: u32) {
        if let Some(waiter) = self.parked.remove(&context_id) {
            if let Some(token) = waiter.in_flight {
                self.calls.remove(&token);
            }
        }
    }
}
