//! The `x-fapi-interaction-id`: played back when the TPP sent a valid one (RFC 4122 UUID), otherwise a
//! fresh UUID v4 generated from caller-supplied random bytes (the adapter owns the randomness source).

use std::fmt;
use std::rc::Rc;

/// Header name, lower case as HTTP/2 and Envoy carry it.
pub const HEADER: &str = "x-fapi-interaction-id";

/// A validated interaction id, always in the RFC 4122 textual form. Cloning is cheap (shared text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InteractionId(Rc<str>);

impl InteractionId {
    /// The id to use for a request: the TPP's own when it is a well-formed UUID, else a new v4 built from
    /// `random()` (asked only then). A malformed value is not echoed (it could carry anything into logs and
    /// headers).
    pub fn for_request(sent: Option<&str>, random: impl FnOnce() -> [u8; 16]) -> Self {
        match sent {
            Some(value) if is_uuid(value) => InteractionId(Rc::from(value)),
            _ => Self::new_v4(random()),
        }
    }

    /// A UUID version 4 (random) from 16 random bytes.
    pub fn new_v4(mut bytes: [u8; 16]) -> Self {
        if let Some(b) = bytes.get_mut(6) {
            *b = (*b & 0x0f) | 0x40;
        }
        if let Some(b) = bytes.get_mut(8) {
            *b = (*b & 0x3f) | 0x80;
        }
        const HEX: &[u8; 16] = b"0123456789abcdef";
        // Written in place and copied once into the shared text (this runs on most requests).
        let mut text = [b'-'; 36];
        let mut at = 0;
        for (i, b) in bytes.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                at += 1;
            }
            for nibble in [b >> 4, b & 0x0f] {
                if let (Some(slot), Some(&digit)) = (text.get_mut(at), HEX.get(usize::from(nibble)))
                {
                    *slot = digit;
                }
                at += 1;
            }
        }
        InteractionId(Rc::from(std::str::from_utf8(&text).unwrap_or_default()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InteractionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// RFC 4122 textual form: 8-4-4-4-12 hexadecimal digits, either case.
pub fn is_uuid(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn a_valid_id_is_played_back_unchanged() {
        let sent = "93bac548-d2de-4546-b106-880a5018460d";
        assert_eq!(
            InteractionId::for_request(Some(sent), || [0; 16]).as_str(),
            sent
        );
        let upper = "93BAC548-D2DE-4546-B106-880A5018460D";
        assert_eq!(
            InteractionId::for_request(Some(upper), || [0; 16]).as_str(),
            upper
        );
    }

    #[test]
    fn a_missing_id_gets_a_new_uuid_v4() {
        let id = InteractionId::for_request(None, || [0xff; 16]);
        assert_eq!(id.as_str(), "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert!(is_uuid(id.as_str()));
    }

    #[test]
    fn a_malformed_id_is_replaced_not_echoed() {
        for bad in [
            "",
            "abc",
            "93bac548-d2de-4546-b106-880a5018460",
            "93bac548-d2de-4546-b106-880a5018460dd",
            "93bac548d2de-4546-b106-880a5018460d-",
            "93bac548-d2de-4546-b106-880a5018460g",
            "93bac548-d2de-4546-b106-880a5018460\n",
        ] {
            let id = InteractionId::for_request(Some(bad), || [0x11; 16]);
            assert_eq!(
                id.as_str(),
                "11111111-1111-4111-9111-111111111111",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn version_and_variant_bits_are_set() {
        let id = InteractionId::new_v4([0; 16]);
        assert_eq!(id.as_str(), "00000000-0000-4000-8000-000000000000");
    }
}
