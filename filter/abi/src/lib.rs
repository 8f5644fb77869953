//! `ob-proxy-abi`: the proxy-wasm ABI (v0.2.1) for `ob-event-filter`, in place of the `proxy-wasm` SDK.
//!
//! Why not the SDK (proxy-wasm 0.2.5):
//! - its host-function wrappers `panic!` on any status they do not expect and `unwrap` what they decode —
//!   reading the request headers panicked on a header value that is not UTF-8, which any client can send:
//!   one request trapped the worker's VM and every later request of that worker was answered 503. Here
//!   every host function returns its failure as a value, and header maps are read as bytes;
//! - it exports every callback of the ABI, so Envoy crosses into the VM for each of them on every request
//!   (`on_log`, `on_done`, `on_response_body`, …) although the filter does nothing there: each crossing
//!   costs the worker ~1.5 k instructions (`OB_BENCH_ONLY=instructions make bench`). Envoy skips a callback
//!   the module does not export, so only the ones the filter needs are exported here.
//!
//! Layout: [`host`] the host functions (imports), [`pairs`] the header-map encoding, [`context`] the callbacks
//! (exports) and the contexts they are dispatched to. The unsafe code of the filter is all in this crate:
//! the FFI declarations and the transfer of buffers the host allocated through `proxy_on_memory_allocate`.

pub mod context;
pub mod host;
mod imports;
mod logger;
pub mod pairs;
pub mod types;

pub use context::{set_root_context, Action, HttpContext, RootContext};
pub use types::{BufferType, LogLevel, MapType, MetricType, Status};

/// The exported ABI version marker Envoy looks for.
#[no_mangle]
pub extern "C" fn proxy_abi_version_0_2_1() {}

/// Declares the module's `_initialize` (WASI reactor entry), which runs the C constructors, installs the
/// logger and the panic hook, and registers `$new_root` as the root-context constructor.
#[macro_export]
macro_rules! main {
    ($new_root:expr) => {
        #[cfg(target_os = "wasi")]
        extern "C" {
            fn __wasm_call_ctors();
        }

        #[no_mangle]
        pub extern "C" fn _initialize() {
            #[cfg(target_os = "wasi")]
            unsafe {
                __wasm_call_ctors();
            }
            $crate::start($new_root);
        }
    };
}

/// What `main!` runs: the logger (level Info until the configuration says otherwise) and the root
/// constructor.
pub fn start(new_root: context::NewRoot) {
    logger::install();
    context::set_root_context(new_root);
}
