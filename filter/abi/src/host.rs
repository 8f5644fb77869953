//! The host functions the filter calls, each returning its failure as a [`Status`] value.

use crate::imports as ffi;
use crate::pairs::{self, Pairs};
use crate::types::{BufferType, LogLevel, MapType, MetricType, Status};
use std::mem::MaybeUninit;
use std::ptr::null_mut;

type Result<T> = std::result::Result<T, Status>;

/// The callback through which the host allocates the buffers it returns (header maps, bodies,
/// properties). Each is handed back to the module, which owns it: see [`take`].
#[no_mangle]
pub extern "C" fn proxy_on_memory_allocate(size: usize) -> *mut u8 {
    let buffer: Box<[MaybeUninit<u8>]> = Box::new_uninit_slice(size);
    Box::into_raw(buffer) as *mut u8
}

/// Take ownership of a buffer the host returned, which it allocated with [`proxy_on_memory_allocate`]
/// (exactly `size` bytes, all written by the host).
///
/// # Safety
/// `data` is null, or it came from `proxy_on_memory_allocate(size)` during the host call that returned it.
unsafe fn take(data: *mut u8, size: usize) -> Option<Vec<u8>> {
    if data.is_null() {
        return None;
    }
    // SAFETY: per the contract above, `data` is a `Box<[u8]>` of `size` bytes (capacity == length == size).
    Some(unsafe { Vec::from_raw_parts(data, size, size) })
}

/// A returned buffer: `Ok(None)` when the host has none (NotFound, or no data).
fn returned(status: u32, data: *mut u8, size: usize) -> Result<Option<Vec<u8>>> {
    // SAFETY: `data`/`size` were written by the host call that returned `status`.
    let taken = unsafe { take(data, size) };
    match Status::check(status) {
        Ok(()) => Ok(Some(taken.unwrap_or_default())),
        Err(Status::NotFound) => Ok(None),
        Err(status) => Err(status),
    }
}

pub fn log(level: LogLevel, message: &str) -> Result<()> {
    // SAFETY: a valid (pointer, length) of a live string.
    Status::check(unsafe { ffi::proxy_log(level as u32, message.as_ptr(), message.len()) })
}

/// The log level Envoy has set for Wasm code (`--component-log-level wasm:…`).
pub fn log_level() -> Result<LogLevel> {
    let mut level = 0u32;
    // SAFETY: `level` outlives the call.
    Status::check(unsafe { ffi::proxy_get_log_level(&mut level) })?;
    Ok(match level {
        0 => LogLevel::Trace,
        1 => LogLevel::Debug,
        2 => LogLevel::Info,
        3 => LogLevel::Warn,
        4 => LogLevel::Error,
        _ => LogLevel::Critical,
    })
}

/// Nanoseconds since the epoch, by the host's clock.
pub fn current_time_ns() -> Result<u64> {
    let mut time = 0u64;
    // SAFETY: `time` outlives the call.
    Status::check(unsafe { ffi::proxy_get_current_time_nanoseconds(&mut time) })?;
    Ok(time)
}

/// Call the root context's `on_tick` every `period_ms` (0 stops it).
pub fn set_tick_period_ms(period_ms: u32) -> Result<()> {
    // SAFETY: no pointers.
    Status::check(unsafe { ffi::proxy_set_tick_period_milliseconds(period_ms) })
}

/// Bytes `[start, start + max_size)` of a buffer; `None` when there is none.
pub fn buffer(kind: BufferType, start: usize, max_size: usize) -> Result<Option<Vec<u8>>> {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: the out-pointers outlive the call.
    let status =
        unsafe { ffi::proxy_get_buffer_bytes(kind as u32, start, max_size, &mut data, &mut size) };
    returned(status, data, size)
}

/// A whole header map in one call (cheaper than one call per header: each returned buffer costs the host
/// a call into the module to allocate it).
pub fn header_pairs(map: MapType) -> Result<Pairs> {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: the out-pointers outlive the call.
    let status = unsafe { ffi::proxy_get_header_map_pairs(map as u32, &mut data, &mut size) };
    Ok(Pairs::new(
        returned(status, data, size)?.unwrap_or_default(),
    ))
}

/// One header's value (the first, when repeated); `None` when absent.
pub fn header_value(map: MapType, name: &str) -> Result<Option<Vec<u8>>> {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: `name` is live; the out-pointers outlive the call.
    let status = unsafe {
        ffi::proxy_get_header_map_value(map as u32, name.as_ptr(), name.len(), &mut data, &mut size)
    };
    returned(status, data, size)
}

/// Add a header (another value when it exists).
pub fn add_header(map: MapType, name: &str, value: &str) -> Result<()> {
    // SAFETY: live (pointer, length) pairs.
    Status::check(unsafe {
        ffi::proxy_add_header_map_value(
            map as u32,
            name.as_ptr(),
            name.len(),
            value.as_ptr(),
            value.len(),
        )
    })
}

/// Set a header to this one value.
pub fn replace_header(map: MapType, name: &str, value: &str) -> Result<()> {
    // SAFETY: live (pointer, length) pairs.
    Status::check(unsafe {
        ffi::proxy_replace_header_map_value(
            map as u32,
            name.as_ptr(),
            name.len(),
            value.as_ptr(),
            value.len(),
        )
    })
}

/// Remove every value of a header.
pub fn remove_header(map: MapType, name: &str) -> Result<()> {
    // SAFETY: a live (pointer, length) pair.
    Status::check(unsafe {
        ffi::proxy_remove_header_map_value(map as u32, name.as_ptr(), name.len())
    })
}

/// A property of the stream, connection, node… (`["connection", "sha256_peer_certificate_digest"]`).
pub fn property(path: &[&str]) -> Result<Option<Vec<u8>>> {
    let path = pairs::encode_path(path);
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: `path` is live; the out-pointers outlive the call.
    let status =
        unsafe { ffi::proxy_get_property(path.as_ptr(), path.len(), &mut data, &mut size) };
    returned(status, data, size)
}

/// Set a property (filter state `wasm.<name>` for a one-part path).
pub fn set_property(path: &[&str], value: &[u8]) -> Result<()> {
    let path = pairs::encode_path(path);
    // SAFETY: live (pointer, length) pairs.
    Status::check(unsafe {
        ffi::proxy_set_property(path.as_ptr(), path.len(), value.as_ptr(), value.len())
    })
}

/// A value shared by every worker of this VM id, with its compare-and-swap token; `(None, None)` when absent.
pub fn shared_data(key: &str) -> Result<(Option<Vec<u8>>, Option<u32>)> {
    let (mut data, mut size, mut cas) = (null_mut(), 0usize, 0u32);
    // SAFETY: `key` is live; the out-pointers outlive the call.
    let status = unsafe {
        ffi::proxy_get_shared_data(key.as_ptr(), key.len(), &mut data, &mut size, &mut cas)
    };
    match returned(status, data, size)? {
        Some(value) => Ok((Some(value), Some(cas))),
        None => Ok((None, None)),
    }
}

/// Set a shared value; with `cas`, only if nobody set it since that token was read (else `CasMismatch`).
pub fn set_shared_data(key: &str, value: Option<&[u8]>, cas: Option<u32>) -> Result<()> {
    let value = value.unwrap_or_default();
    // SAFETY: live (pointer, length) pairs.
    Status::check(unsafe {
        ffi::proxy_set_shared_data(
            key.as_ptr(),
            key.len(),
            value.as_ptr(),
            value.len(),
            cas.unwrap_or(0),
        )
    })
}

/// Answer the effective context's request locally. `details` is Envoy's response-code details
/// (`%RESPONSE_CODE_DETAILS%`).
pub fn send_local_response(
    status: u32,
    details: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<()> {
    let headers = pairs::encode(headers);
    let body = body.unwrap_or_default();
    // SAFETY: live (pointer, length) pairs.
    Status::check(unsafe {
        ffi::proxy_send_local_response(
            status,
            details.as_ptr(),
            details.len(),
            body.as_ptr(),
            body.len(),
            headers.as_ptr(),
            headers.len(),
            -1,
        )
    })
}

/// Call `cluster` (an Envoy cluster); the answer comes to the calling context's `on_http_call_response`
/// with the returned token (the host delivers it to the root context; [`crate::context`] forwards it).
pub fn http_call(
    cluster: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    timeout_ms: u32,
) -> Result<u32> {
    let headers = pairs::encode(headers);
    let trailers = pairs::encode::<&str>(&[]);
    let body = body.unwrap_or_default();
    let mut token = 0u32;
    // SAFETY: live (pointer, length) pairs; `token` outlives the call.
    Status::check(unsafe {
        ffi::proxy_http_call(
            cluster.as_ptr(),
            cluster.len(),
            headers.as_ptr(),
            headers.len(),
            body.as_ptr(),
            body.len(),
            trailers.as_ptr(),
            trailers.len(),
            timeout_ms,
            &mut token,
        )
    })?;
    crate::context::register_callout(token);
    Ok(token)
}

/// Make `context_id` the context later host calls act on (a root context answering a parked request).
pub fn set_effective_context(context_id: u32) -> Result<()> {
    // SAFETY: no pointers.
    Status::check(unsafe { ffi::proxy_set_effective_context(context_id) })
}

/// Define (or find) a metric; its id for [`increment_metric`].
pub fn define_metric(kind: MetricType, name: &str) -> Result<u32> {
    let mut id = 0u32;
    // SAFETY: `name` is live; `id` outlives the call.
    Status::check(unsafe {
        ffi::proxy_define_metric(kind as u32, name.as_ptr(), name.len(), &mut id)
    })?;
    Ok(id)
}

pub fn increment_metric(id: u32, offset: i64) -> Result<()> {
    // SAFETY: no pointers.
    Status::check(unsafe { ffi::proxy_increment_metric(id, offset) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_host_every_function_fails_as_a_value() {
        assert_eq!(current_time_ns(), Err(Status::Unimplemented));
        assert_eq!(
            header_pairs(MapType::HttpRequestHeaders),
            Err(Status::Unimplemented)
        );
        assert_eq!(shared_data("k"), Err(Status::Unimplemented));
        assert_eq!(http_call("c", &[], None, 1), Err(Status::Unimplemented));
    }

    #[test]
    fn a_buffer_the_host_allocated_is_taken_back_whole() {
        let data = proxy_on_memory_allocate(5);
        // SAFETY: five bytes were allocated.
        unsafe { std::ptr::copy_nonoverlapping(b"hello".as_ptr(), data, 5) };
        assert_eq!(returned(0, data, 5), Ok(Some(b"hello".to_vec())));
        assert_eq!(returned(1, null_mut(), 0), Ok(None));
        assert_eq!(returned(0, null_mut(), 0), Ok(Some(Vec::new())));
        assert_eq!(returned(2, null_mut(), 0), Err(Status::BadArgument));
    }
}
