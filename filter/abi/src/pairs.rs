//! The ABI's encoding of a header map (and of a property path): a little-endian `u32` count, then a
//! `u32` name length and a `u32` value length per entry, then every name and value, each followed by a 0
//! byte. Names and values are bytes: HTTP allows header values that are not UTF-8 (obs-text), so nothing
//! here assumes UTF-8; a caller that needs text checks the one value it uses.

/// A header map as the host encoded it, read in place (no copy, no allocation per header).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pairs {
    bytes: Vec<u8>,
}

impl Pairs {
    /// Wrap an encoded map. Malformed encodings are not rejected here: iteration stops at the first entry
    /// that does not fit, so a bad map reads as shorter, never as a panic.
    pub fn new(bytes: Vec<u8>) -> Pairs {
        Pairs { bytes }
    }

    /// Every entry, in the host's order.
    pub fn iter(&self) -> Iter<'_> {
        let count = read_u32(&self.bytes, 0).unwrap_or(0) as usize;
        // The lengths table must fit in the buffer; a count that claims more is treated as empty.
        let data = count
            .checked_mul(8)
            .and_then(|table| table.checked_add(4))
            .filter(|start| *start <= self.bytes.len());
        Iter {
            bytes: &self.bytes,
            count: if data.is_some() { count } else { 0 },
            index: 0,
            at: data.unwrap_or(0),
        }
    }

    /// The first value of `name` (header names are lower case in Envoy).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|(n, _)| *n == name.as_bytes())
            .map(|(_, v)| v)
    }

    /// The first value of `name` as text; `None` when absent or not UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// How many entries are named `name`.
    pub fn count(&self, name: &str) -> usize {
        self.iter().filter(|(n, _)| *n == name.as_bytes()).count()
    }

    /// Whether the map has no entry.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

/// The entries of [`Pairs`].
pub struct Iter<'a> {
    bytes: &'a [u8],
    count: usize,
    index: usize,
    at: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.index >= self.count {
            return None;
        }
        let table = 4 + self.index * 8;
        let name_len = read_u32(self.bytes, table)? as usize;
        let value_len = read_u32(self.bytes, table + 4)? as usize;
        let name = self.bytes.get(self.at..self.at.checked_add(name_len)?)?;
        let value_at = self.at + name_len + 1;
        let value = self.bytes.get(value_at..value_at.checked_add(value_len)?)?;
        self.at = value_at + value_len + 1;
        self.index += 1;
        Some((name, value))
    }
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let four: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(four))
}

/// Encode `pairs` for the host (local replies, callouts); values are text or bytes.
pub fn encode<V: AsRef<[u8]>>(pairs: &[(&str, V)]) -> Vec<u8> {
    let size = 4 + pairs
        .iter()
        .map(|(n, v)| 8 + n.len() + v.as_ref().len() + 2)
        .sum::<usize>();
    let mut bytes = Vec::with_capacity(size);
    bytes.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
    for (name, value) in pairs {
        bytes.extend_from_slice(&(name.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&(value.as_ref().len() as u32).to_le_bytes());
    }
    for (name, value) in pairs {
        bytes.extend_from_slice(name.as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(value.as_ref());
        bytes.push(0);
    }
    bytes
}

/// Encode a property path (`["connection", "sha256_peer_certificate_digest"]`): the parts joined by 0.
pub fn encode_path(path: &[&str]) -> Vec<u8> {
    path.join("\0").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Pairs {
        Pairs::new(encode(&[
            (":method", "GET"),
            (":path", "/open-banking/v3.1/events"),
            ("x-a", "1"),
            ("x-a", "2"),
            ("empty", ""),
        ]))
    }

    #[test]
    fn reads_back_what_was_encoded_in_order() {
        let pairs = sample();
        let all: Vec<(&[u8], &[u8])> = pairs.iter().collect();
        assert_eq!(all.len(), 5);
        assert_eq!(all[0], (&b":method"[..], &b"GET"[..]));
        assert_eq!(all[4], (&b"empty"[..], &b""[..]));
        assert_eq!(pairs.get_str(":path"), Some("/open-banking/v3.1/events"));
        assert_eq!(pairs.get("x-a"), Some(&b"1"[..]));
        assert_eq!(pairs.count("x-a"), 2);
        assert_eq!(pairs.get_str("empty"), Some(""));
        assert_eq!(pairs.get("absent"), None);
    }

    #[test]
    fn a_value_that_is_not_utf8_is_bytes_not_a_failure() {
        // What a client can send (obs-text) and what made the SDK's header read panic.
        let bytes = encode::<&[u8]>(&[("x-foo", b"caf\xe9"), (":path", b"/x/")]);
        assert_eq!(
            &bytes[4 + 16..],
            b"x-foo\0caf\xe9\0:path\0/x/\0",
            "names and values, each followed by 0"
        );
        let pairs = Pairs::new(bytes);
        assert_eq!(pairs.get("x-foo"), Some(&b"caf\xe9"[..]));
        assert_eq!(pairs.get_str("x-foo"), None);
        assert_eq!(pairs.get_str(":path"), Some("/x/"));
    }

    #[test]
    fn malformed_maps_read_as_shorter_never_panic() {
        let good = encode(&[("a", "1"), ("b", "2")]);
        // Every truncation of a good map, and a few corruptions of its count and lengths.
        for cut in 0..good.len() {
            let pairs = Pairs::new(good[..cut].to_vec());
            assert!(pairs.iter().count() <= 2);
            let _ = pairs.get("b");
        }
        for count in [0u32, 3, 1 << 29, u32::MAX] {
            let mut bad = good.clone();
            bad[..4].copy_from_slice(&count.to_le_bytes());
            assert!(Pairs::new(bad).iter().count() <= 2);
        }
        let mut bad = good.clone();
        bad[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(Pairs::new(bad).iter().count(), 0);
        assert!(Pairs::new(Vec::new()).is_empty());
    }

    #[test]
    fn paths_are_joined_by_nul() {
        assert_eq!(
            encode_path(&["connection", "sha256_peer_certificate_digest"]),
            b"connection\0sha256_peer_certificate_digest".to_vec()
        );
        assert_eq!(encode_path(&["one"]), b"one".to_vec());
    }
}
