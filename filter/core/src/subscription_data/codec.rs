//! The byte primitives of [`super::Snapshot::to_bytes`]: LEB128 varints, length-prefixed UTF-8 strings, and
//! a framed, checksummed envelope.
//!
//! Frame: `"OBSD"` (4 bytes) · format version (1 byte) · body length (u32 LE) · FNV-1a 64 of the body
//! (u64 LE) · body. Anything else — wrong magic or version, a length that is not the rest, a checksum
//! mismatch, a truncated or over-long body, invalid UTF-8 — is refused.

use super::DataError;

const MAGIC: &[u8; 4] = b"OBSD";
/// Bumped whenever the body layout changes: a worker never reads another version's bytes.
pub const FORMAT_VERSION: u8 = 1;
const HEADER_LEN: usize = 4 + 1 + 4 + 8;

/// FNV-1a, 64 bits: detects corruption of shared data (not an authenticity check: shared data is only
/// writable by the filter's own VMs).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Put the frame around a body.
pub fn frame(body: &[u8]) -> Result<Vec<u8>, DataError> {
    let len =
        u32::try_from(body.len()).map_err(|_| DataError::bytes("snapshot larger than 4 GiB"))?;
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(MAGIC);
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&fnv1a64(body).to_le_bytes());
    out.extend_from_slice(body);
    Ok(out)
}

/// The body inside a frame, checked.
pub fn unframe(bytes: &[u8]) -> Result<&[u8], DataError> {
    let (header, body) = bytes
        .split_at_checked(HEADER_LEN)
        .ok_or_else(|| DataError::bytes("shorter than the header"))?;
    let mut r = Reader::new(header);
    if r.take(4)? != MAGIC {
        return Err(DataError::bytes("not a subscription snapshot (magic)"));
    }
    let version = r.u8()?;
    if version != FORMAT_VERSION {
        return Err(DataError::bytes(format!(
            "format version {version}, expected {FORMAT_VERSION}"
        )));
    }
    let len = u32::from_le_bytes(r.array()?);
    let sum = u64::from_le_bytes(r.array()?);
    if usize::try_from(len).ok() != Some(body.len()) {
        return Err(DataError::bytes("length does not match"));
    }
    if fnv1a64(body) != sum {
        return Err(DataError::bytes("checksum mismatch"));
    }
    Ok(body)
}

#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    pub fn usize(&mut self, v: usize) {
        self.varint(v as u64);
    }

    /// Zig-zag, so small negative numbers stay short.
    pub fn i64(&mut self, v: i64) {
        self.varint(((v << 1) ^ (v >> 63)) as u64);
    }

    pub fn str(&mut self, s: &str) {
        self.usize(s.len());
        self.buf.extend_from_slice(s.as_bytes());
    }
}

pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DataError> {
        let (head, tail) = self
            .rest
            .split_at_checked(n)
            .ok_or_else(|| DataError::bytes("truncated"))?;
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DataError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, DataError> {
        let [b] = self.array::<1>()?;
        Ok(b)
    }

    pub fn varint(&mut self) -> Result<u64, DataError> {
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            let part = u64::from(b & 0x7f);
            if shift == 63 && part > 1 {
                return Err(DataError::bytes("varint overflow"));
            }
            value |= part << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DataError::bytes("varint too long"))
    }

    pub fn usize(&mut self) -> Result<usize, DataError> {
        usize::try_from(self.varint()?).map_err(|_| DataError::bytes("length overflow"))
    }

    /// A count of items that each take at least one byte: never more than the bytes left (so a corrupt
    /// count cannot make the reader allocate gigabytes).
    pub fn count(&mut self) -> Result<usize, DataError> {
        let n = self.usize()?;
        if n > self.rest.len() {
            return Err(DataError::bytes("count larger than the data"));
        }
        Ok(n)
    }

    pub fn i64(&mut self) -> Result<i64, DataError> {
        let z = self.varint()?;
        Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
    }

    pub fn str(&mut self) -> Result<&'a str, DataError> {
        let n = self.usize()?;
        std::str::from_utf8(self.take(n)?).map_err(|_| DataError::bytes("invalid UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn varints_and_strings_round_trip() {
        let mut w = Writer::default();
        for v in [0u64, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            w.varint(v);
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX] {
            w.i64(v);
        }
        w.str("héllo");
        let mut r = Reader::new(&w.buf);
        for v in [0u64, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(r.varint().unwrap(), v);
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(r.i64().unwrap(), v);
        }
        assert_eq!(r.str().unwrap(), "héllo");
        assert!(r.is_empty());
        assert!(Reader::new(&[0xff; 11]).varint().is_err());
        assert!(Reader::new(&[0x05, b'a']).str().is_err());
        assert!(Reader::new(&[0x02, 0xc3, 0x28]).str().is_err());
    }

    #[test]
    fn frame_rejects_tampering() {
        let framed = frame(b"body").unwrap();
        assert_eq!(unframe(&framed).unwrap(), b"body");
        for i in 0..framed.len() {
            let mut bad = framed.clone();
            bad[i] ^= 0x01;
            assert!(unframe(&bad).is_err(), "flip at {i}");
        }
        assert!(unframe(&framed[..framed.len() - 1]).is_err());
        let mut longer = framed.clone();
        longer.push(0);
        assert!(unframe(&longer).is_err());
        assert!(unframe(b"").is_err());
    }
}
