//! The floor: a proxy-wasm HTTP filter that lets every request continue untouched. `make bench` runs it
//! beside the real filter so that the cost of running *any* Wasm filter in Envoy is measured, not assumed.
//!
//! With a plugin configuration it becomes a probe: on every request it makes the named hostcalls the given
//! number of times (`{"get_map": 1, "set_header": 5}`), so `make bench` can price one hostcall of each kind
//! (`OB_BENCH_ONLY=hostcalls`). With no configuration (or `{}`) it makes none.

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, MapType, MetricType};
use std::rc::Rc;

proxy_wasm::main! {{
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root::default()) });
}}

/// How many of each hostcall to make per request.
#[derive(Debug, Default, Clone, Copy)]
struct Probe {
    get_map: u32,
    get_header: u32,
    set_header: u32,
    set_map: u32,
    metric: u32,
    time: u32,
    random: u32,
    set_property: u32,
    response_header: u32,
    metric_id: u32,
}

#[derive(Default)]
struct Root {
    probe: Rc<Probe>,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let config =
            hostcalls::get_buffer(proxy_wasm::types::BufferType::PluginConfiguration, 0, 4096)
                .ok()
                .flatten()
                .unwrap_or_default();
        let text = String::from_utf8_lossy(&config);
        let count = |name: &str| -> u32 {
            // A flat `"name": N` reader: the probe's configuration is written by ob-bench only.
            let key = format!("\"{name}\"");
            text.find(&key)
                .and_then(|at| text.get(at + key.len()..))
                .and_then(|rest| rest.trim_start().strip_prefix(':'))
                .map(|rest| {
                    rest.trim_start()
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect::<String>()
                })
                .and_then(|digits| digits.parse().ok())
                .unwrap_or(0)
        };
        let metric_id =
            hostcalls::define_metric(MetricType::Counter, "noop_probe_total").unwrap_or(0);
        self.probe = Rc::new(Probe {
            get_map: count("get_map"),
            get_header: count("get_header"),
            set_header: count("set_header"),
            set_map: count("set_map"),
            metric: count("metric"),
            time: count("time"),
            random: count("random"),
            set_property: count("set_property"),
            response_header: count("response_header"),
            metric_id,
        });
        true
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Noop {
            probe: Rc::clone(&self.probe),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Noop {
    probe: Rc<Probe>,
}

impl Context for Noop {}

impl HttpContext for Noop {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let p = *self.probe;
        let mut headers = Vec::new();
        for _ in 0..p.get_map {
            headers = hostcalls::get_map(MapType::HttpRequestHeaders).unwrap_or_default();
        }
        for _ in 0..p.get_header {
            let _ = hostcalls::get_map_value(MapType::HttpRequestHeaders, "authorization");
        }
        for i in 0..p.set_header {
            let name = format!("x-probe-{i}");
            let _ = hostcalls::set_map_value(MapType::HttpRequestHeaders, &name, Some("value"));
        }
        for i in 0..p.set_map {
            let mut all: Vec<(String, String)> = headers.clone();
            for j in 0..5 {
                all.push((format!("x-probe-{i}-{j}"), "value".to_string()));
            }
            let pairs: Vec<(&str, &str)> =
                all.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            let _ = hostcalls::set_map(MapType::HttpRequestHeaders, pairs);
        }
        for _ in 0..p.metric {
            let _ = hostcalls::increment_metric(p.metric_id, 1);
        }
        for _ in 0..p.time {
            let _ = hostcalls::get_current_time();
        }
        for _ in 0..p.random {
            let mut bytes = [0u8; 16];
            let _ = getrandom_fill(&mut bytes);
        }
        for i in 0..p.set_property {
            let name = format!("noop_probe.{i}");
            let _ = hostcalls::set_property(vec![name.as_str()], Some(b"value"));
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        for _ in 0..self.probe.response_header {
            let _ =
                hostcalls::set_map_value(MapType::HttpResponseHeaders, "x-probe", Some("value"));
        }
        Action::Continue
    }
}

/// WASI `random_get`, as the filter asks for an interaction id.
fn getrandom_fill(bytes: &mut [u8; 16]) -> bool {
    getrandom::fill(bytes).is_ok()
}
