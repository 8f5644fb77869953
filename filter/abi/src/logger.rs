//! The `log` crate's records go to Envoy's log (`proxy_log`), and a panic's message is logged as critical
//! before the module aborts (so that a trapped VM leaves its reason in Envoy's log).

use crate::host;
use crate::types::LogLevel;

struct Logger;

static LOGGER: Logger = Logger;

/// Install the logger (level Info) and the panic hook. A second call changes nothing.
pub fn install() {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
        std::panic::set_hook(Box::new(|info| {
            let _ = host::log(LogLevel::Critical, &info.to_string());
        }));
    }
}

/// Follow the level Envoy sets for Wasm code, when the host tells it.
pub fn follow_host_level() {
    if let Ok(level) = host::log_level() {
        log::set_max_level(match level {
            LogLevel::Trace => log::LevelFilter::Trace,
            LogLevel::Debug => log::LevelFilter::Debug,
            LogLevel::Info => log::LevelFilter::Info,
            LogLevel::Warn => log::LevelFilter::Warn,
            LogLevel::Error => log::LevelFilter::Error,
            LogLevel::Critical => log::LevelFilter::Off,
        });
    }
}

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            log::Level::Trace => LogLevel::Trace,
            log::Level::Debug => LogLevel::Debug,
            log::Level::Info => LogLevel::Info,
            log::Level::Warn => LogLevel::Warn,
            log::Level::Error => LogLevel::Error,
        };
        // A log line that cannot be written is dropped; it must not fail the request.
        let _ = host::log(level, &record.args().to_string());
    }

    fn flush(&self) {}
}
