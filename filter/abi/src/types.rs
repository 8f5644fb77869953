//! The ABI's enumerations, as the filter uses them.

/// What a host function answered when it did not succeed. Every value the host may return is kept: an
/// unknown one is `Other`, never undefined behaviour or a panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    NotFound,
    BadArgument,
    SerializationFailure,
    ParseFailure,
    Empty,
    CasMismatch,
    InternalFailure,
    /// The function is not available (e.g. a native build, where there is no host).
    Unimplemented,
    Other(u32),
}

impl Status {
    /// `Ok(())` for the ABI's 0, else the failure.
    pub(crate) fn check(code: u32) -> Result<(), Status> {
        match code {
            0 => Ok(()),
            1 => Err(Status::NotFound),
            2 => Err(Status::BadArgument),
            3 => Err(Status::SerializationFailure),
            4 => Err(Status::ParseFailure),
            7 => Err(Status::Empty),
            8 => Err(Status::CasMismatch),
            10 => Err(Status::InternalFailure),
            12 => Err(Status::Unimplemented),
            other => Err(Status::Other(other)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u32)]
pub enum LogLevel {
    Trace = 0,
    Debug = 1,
    Info = 2,
    Warn = 3,
    Error = 4,
    Critical = 5,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum MapType {
    HttpRequestHeaders = 0,
    HttpResponseHeaders = 2,
    HttpCallResponseHeaders = 6,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum BufferType {
    HttpRequestBody = 0,
    HttpCallResponseBody = 4,
    PluginConfiguration = 7,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum MetricType {
    Counter = 0,
    Gauge = 1,
    Histogram = 2,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_code_is_a_value() {
        assert_eq!(Status::check(0), Ok(()));
        assert_eq!(Status::check(1), Err(Status::NotFound));
        assert_eq!(Status::check(8), Err(Status::CasMismatch));
        assert_eq!(Status::check(99), Err(Status::Other(99)));
        assert_eq!(Status::check(u32::MAX), Err(Status::Other(u32::MAX)));
    }
}
