//! Turning a decision into an answer: count it, log it with the interaction id, render it. Shared by the
//! HTTP context and by the root context (which answers long polls).

use crate::stats::Stats;
use ob_event_core::{reply, InteractionId, LocalReply, Refusal};

/// Count and log a refusal, and render the answer the TPP gets.
pub fn refusal(
    stats: &Stats,
    refusal: &Refusal,
    detail: Option<&str>,
    id: &InteractionId,
) -> LocalReply {
    let spec = refusal.spec();
    stats.refused(spec.stat, refusal.reason);
    let reason = if refusal.reason == spec.stat {
        String::new()
    } else {
        format!(".{}", refusal.reason)
    };
    let detail = detail.map(|d| format!(" [{d}]")).unwrap_or_default();
    let message = format!(
        "[{id}] refused {} {}{reason}: {} ({}){detail}",
        spec.status,
        spec.stat,
        refusal.message,
        refusal.path.as_deref().unwrap_or("-"),
    );
    if spec.status >= 500 {
        log::error!("{message}");
    } else {
        log::warn!("{message}");
    }
    reply::refusal(refusal, id)
}

/// Count and log an answer the filter produced from the backend's.
pub fn answered(stats: &Stats, reply: &LocalReply, id: &InteractionId, what: &str) {
    stats.increment("answered", status_class(reply.status));
    log::debug!("[{id}] {what}: {}", reply.status);
}

fn status_class(status: u16) -> &'static str {
    match status {
        200..=299 => "2xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}
