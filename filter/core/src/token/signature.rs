//! Signature verification with RustCrypto: `rsa` 0.10 for PS256 / RS256, `p256` 0.14 for ES256.
//! Chosen by measurement (docs/benchmarks-signature-verification.md): in V8 it is the fastest correct path.

use p256::ecdsa::signature::Verifier;
use rsa::{Pkcs1v15Sign, Pss};
use sha2::{Digest, Sha256};

use super::jwks::{Jwk, KeyMaterial};
use super::policy::Alg;

/// PS256 salt length: the SHA-256 output size (RFC 7518 §3.5). Other salt lengths are refused.
const PSS_SALT_LEN: usize = 32;

/// Whether `signature` is a valid `alg` signature of `signing_input` by `key`. A key that does not fit `alg`
/// never verifies.
pub(crate) fn verifies(alg: Alg, key: &Jwk, signing_input: &[u8], signature: &[u8]) -> bool {
    if !key.fits(alg) {
        return false;
    }
    match (&key.material, alg) {
        (KeyMaterial::Rsa(public), Alg::RS256) => {
            let hashed = Sha256::digest(signing_input);
            public
                .verify(Pkcs1v15Sign::new::<Sha256>(), &hashed, signature)
                .is_ok()
        }
        (KeyMaterial::Rsa(public), Alg::PS256) => {
            let hashed = Sha256::digest(signing_input);
            public
                .verify(
                    Pss::<Sha256>::new_with_salt(PSS_SALT_LEN),
                    &hashed,
                    signature,
                )
                .is_ok()
        }
        (KeyMaterial::EcP256(public), Alg::ES256) => {
            // JWS ES256 signatures are the fixed-size `r || s` (RFC 7518 §3.4), never DER.
            p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|sig| public.verify(signing_input, &sig).is_ok())
        }
        _ => false,
    }
}
