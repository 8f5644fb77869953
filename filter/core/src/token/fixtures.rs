//! Test fixtures: fixed keys (generated once, so tests are fast and deterministic, natively and in V8),
//! their public JWKs, and token signing for every algorithm, including the ones the verifier must refuse.

use std::sync::OnceLock;

use base64ct::{Base64UrlUnpadded, Encoding};
use hmac::{Hmac, KeyInit, Mac};
use p256::ecdsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
use p256::pkcs8::DecodePrivateKey as _;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use sha2::Sha256;

/// A fixture key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    RsaA,
    RsaB,
    RsaSmall,
    EcA,
    EcB,
}

pub const ISSUER: &str = "https://is.example.com:9446/oauth2/token";
pub const NOW: u64 = 1_800_000_000;

/// The issuer's RSA-2048 key (PKCS#8 PEM, generated once with openssl for these tests).
const RSA_A_PEM: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCN+3W7N/LmP8Gi\n\
cDxXkDY0OfagfHlGVHxEVnbvk8yyK/BJwuJV8xsb2XgblmvBBEu2wYuym7nAqLHd\n\
de2IeSIobCLl9jqIR4I5hJZBVvvVmwWPKrS6sPgvh7vI3/4/pzdKq0CUhIENh7ce\n\
sdghEame8FIO5lsrYUSBAHga2tcUCpneX7K+SI5OE47zms+BYOH/XTbdGqluaXhx\n\
u4dsA31F3ChESyR1QbAp+W41zVPHhy8ihkgyHSoAvZENBlFA7StYClLacaTFKjG3\n\
Y1++QPFddVcrY02UTizIuO77cJ5AdeXmjHlLtfilsxaMYR3u5skkKdZCtcnQ0QFl\n\
Vj01m1W9AgMBAAECggEADVnIW8bqibkUCaS5H9i5KBcNOFEMDE90ce6Zd3Sz6ksU\n\
aLMxGjjmYyuDTkDKOBeh0PkJHE3lXRbfxr3IjK0rR5bHf000es0SkzsC7/jwbEkL\n\
8EbpQKbUZ4/BWiWp4C1mlxhcVbrR8cZBs1qwwodJJl9dr/X8O6uFSAYVxRyv3bvv\n\
l1rt+b4W0D0cwhQhCS434272DSb1bntHMiTyIWj5TmZJ7Qfk/jECY25JvdRjht6E\n\
WW1jwbFUDMsw2udh6+9ldRcqW86hu2zQpz2C9+Jvj8BbskbzQFwpwmEFoHksiTBr\n\
G2C5eoM7E8fLMD4oP7IaBqvRKU/TR96mJLUb7tKcYQKBgQDDhFXUktXpqpCHWtD2\n\
ikTX6ptMUzymUHHDm+9UY/1CbMKvjZFSlBGaL0qopBXTO13NDm9kqEbI9wtVeB9B\n\
36EIRMVWuBHbI6Gj/iUl74lBYUh4N70LrNj/a73wV5DiUkXKKirW9dZvVlAwztzm\n\
ilD7gCVpY258nNeNXnyM0zpwrQKBgQC554c/VA1SJPAOQZ4+sBAX4ym//skc//yU\n\
hN5nZobv/tC3/TVnsh8CSn9dm0QVtm2rHGNGsdv00SXrfEzSzJtcfH07/B1hu66P\n\
lzayt/TsBpBizJLQlioV+To4gfv7ZBBmWl77Ps8VCOVG55AeTtLW5KRIxGbT6g3Z\n\
f39UiedLUQKBgAEs6H8wqsyO0/OcXik9R5CsvmZFEdZGIYj1hQjS2RDvKnR3u2nt\n\
rfVpV1+QLPlqH/Q9o/nM8TAAHDdVU4rH12X/U9hjnufcXPpparvBpueXuCHQ4/gP\n\
//X5JdkuDZbuu7CtdDh6neFpeW3xsG5KYpZAfPkXOfDR2JHnAYSvOGi5AoGBAKRk\n\
Mbv1dqYaFdF1gxrKFCEbdtLZ2jvzvgYTjJwBFPfq6+SXW39sCnG7MO+0mjtdC5OR\n\
UdS0+N1/iTm4vDJ4TjY1u4Ssx8qh7ZX6UJsvgryofUtwva8H6wVtU2eewhWmgb4Q\n\
0gb4nqRqLl1J7a5vY5A1tXTHgGqKgV7AmPdHzylRAoGBAMI7OSxiiF9KCcF+WJt/\n\
1eDf9TBt6u2YCvU0OJ3QPDPULX/V/B2DN+EZJrGbjUY4RoSU7VfBW68UAzoI2Cc2\n\
ye9toQ9V+OJk8brj0VU5Ml+bx1ZmINlggE/bVouwHvhC7dWT+hnYLbQwo4gnSrJ9\n\
1IXwJv8S3pU76vBUB9Il5Zw/\n\
-----END PRIVATE KEY-----\n\
";

/// An attacker's RSA-2048 key (PKCS#8 PEM, generated once with openssl for these tests).
const RSA_B_PEM: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC1jf208DO0GuN0\n\
74rVRYCNTfz9ukoM93f0mGDnC56IeJBYRnv0tE4DgAZ1MhWOlYKxbcUDGX+U+ee9\n\
FtDy2zIb6xREG/O2aDcQhILa65P+zo7iTPImDaHdZ+CzfuMss9DdaGwH7hOMbhyT\n\
NsG8hXHddSrWmnkfkzVxwGnY456j9Md7UCxs/9MUCIY1xwKKwBtCyYrmx4/5YXWA\n\
l9lrOgArr1LkS79vGBYpWzFievAarF/B0CxHezd4YhomIGqWaQmCrLY6r2ZdVOiw\n\
LyAkjb6/GPGYs/Gu9eFdbVB10j9VYSFsAsMwCEU/danuYRy0UlDU0n2NY1dlqo8U\n\
nP2Gq7qTAgMBAAECggEARkGxSSCe0XaKSMkdz5Q6v/PLECDT4Rqut99zuFUdvy/w\n\
o8h61WIkwmP7m8SK5QdkcObKk319ipf+noTCzQgX5wfcatLqR88iZ+jvfmoldjhW\n\
wKoIFsO1vKkjIjLbFIRtMhDjpVnzBKfjtPA+noaBXrKlpjBW6Oodh2xvSXgj/svl\n\
PQ5cyOHoVvIxCxBB8IG/gDjZOyAgACbWo3yqzG0+2g3uZt2nugJyX4cVj5rDcfvR\n\
dCjpYGnuqYixC9B910/70c5JFJcEH4nJScDUKh/t59F7AUynDetCDqw/4hRGIZYo\n\
wJHu4OSOFgsMvMe3At2U0siCIlgTXyooi8j+RYdeAQKBgQD2lbEIEdZc694f83U7\n\
SjVb/ty294+iEn1dhmkldd3o/YSkm9X41Ocm9WKibfHM0O4EQZ3QfFP25ER7xOKM\n\
8kmldKq1xBcUSkQJZGdvd9tjujrnRspRw0OkjrJdLrTeO5RyHg4VA0yC6UZpCiPT\n\
H8Y3ac3Gj/1vxB2WbSz30HnHAQKBgQC8fKVFVN3DOlcJSd3tPTbLE23JjDh+SYDU\n\
O0bvtI3kiNXasyKp9+TrwEQiEmGOzeo2ZQJdedx+WcHgWcbOxjZvRYPVxqbEsvWm\n\
W+tnhalM+wBaN9UhO3KaixiErpbXVgTTVWX+Z8+GG79mxFEdV2kbD0npYbuRQJHp\n\
CfEbW8t1kwKBgQCr5v9bmNPQQ76+l4MKqlk4oRxNkZhYbHtpT+LNcrYZT2PBPcKV\n\
jhb3WepBQlRnbOABp5zVU1dVrxzvC/rEN8SPzB2WSfWs93km8xAI7Y3MoG+f/AHf\n\
rjjh53kA7Sa6Jt7+D2XR0FLukKG9aIxBCs2so94IpykPWbEmxUWsHXJIAQKBgAEw\n\
0GJ1vMjk73PRkaNUBaqWvtTNG/ZARJ4Smcod29+bta4h/5APTtTmbAfDEfay+k3J\n\
qZApmuj5bC4coxLfUay2RbTuAlOvxbl9TyliQMWJuGDZhXEmTP0I7+i2qaFGm9Ux\n\
7ukCgt8YAceGafTDfph7Kj5dLbAnNkTAmVNQ6yIdAoGANQvKjFzxV25c9EqZfaUt\n\
ukAlAw4ir/wvWi8PebPYnXAR8ir4IHLe2ZKmvh99WbSguLHDOd5A0eOktDTWKxEl\n\
fZhs3w4BZL1wtln+sKYeGpHwx/h9XtHs3bd/85gT3O0GOKQ+CectrWiS66vKyiCk\n\
AJU5HgOmlDTmEOKWwXNwXVo=\n\
-----END PRIVATE KEY-----\n\
";

/// An RSA-1024 key (too small) (PKCS#8 PEM, generated once with openssl for these tests).
const RSA_SMALL_PEM: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIICdwIBADANBgkqhkiG9w0BAQEFAASCAmEwggJdAgEAAoGBAN3jI7ypqovbL0/O\n\
Qn3ATH85zruO/V0VQZTr1jVaMqBfUSGI4Sed2QlhKnSbgGkpbaEBue/ydinMNru1\n\
IkkqrN5ez4ImppzWK/rZM2ZRnYPi561CoXCYhKUQw053o+diaNRrMNQdy5Lb2NeQ\n\
BRCt8dNW+td7Iov1/Ya9URlTYp4/AgMBAAECgYB14fDgkLtc5ivymEBXEs0RYqLk\n\
nokY5OwctFbvrWXsMfeme1QzefcOtqKZpOvJ8wqdWY9xXT1N44LIouj+Oj/wPk/t\n\
Hi/MKzBYPO8lHJ9f1wX/umqjhWkh7ouIwm6VAfweEZ4lYTKKtnpnwUQ5ZB95m8pw\n\
rioXW9yT9lk5CvMGMQJBAP92o9FKT7I1vDjMakHh62+XCqA3wvGmENY3lyAUqhxm\n\
IKgENFVo8dEk5CbfS5znI8osGYr4A7ZLGGSSSzSrGgsCQQDeWnI02w5fQ3cKV4d/\n\
D6GjX0pqdRrHDdEBycqPz6bK685Z3rWjpxTo9htpLVaKe/mu+1L75SSFBFqmWYz9\n\
d+EdAkAD7t6szTkW5E7mjPch1omaaTfnqZQdxlHCCo8QFmFcGJJuI8puejQm5SuC\n\
EbQHUWOyrCUkh5b/Cn7wpXP09qFrAkEAkcSRon0JSwKbg7gmJ/JDcSsDSg9DYsN4\n\
BcgYd3cWTWmRefE6+vKKDr9o8Oa8GUV1RnWUzXZHHrzgALYsa+6vMQJBAJEDt/uH\n\
k2cFEZsllCfhFEEfIZH3/JweumKkJZBXx+UEtwwanu3UmUPKkdWSqxl4uXVVrZ/c\n\
Ojed8buzQ2nVZZc=\n\
-----END PRIVATE KEY-----\n\
";

/// The issuer's P-256 key (PKCS#8 PEM, generated once with openssl for these tests).
const EC_A_PEM: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgB5CcAjYIT5VcCCQz\n\
7PTqNcdLoRPG+RulgYOkjE3YNkyhRANCAARo76hR1T8PiaMtvOlrI7geGZjwTvSJ\n\
9b3RYfRUZP1313apsq1Oa0RIDJeKQ3h+WD+6KJTc32x8f/cWH8CT1Gj2\n\
-----END PRIVATE KEY-----\n\
";

/// An attacker's P-256 key (PKCS#8 PEM, generated once with openssl for these tests).
const EC_B_PEM: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgOoteYSkdscJedjP1\n\
/yZMCda7QdQ5w5qFtnlDiGp2jRahRANCAARc2jPO8UaqIWjrjpcEnZjcq+VDDdEa\n\
Q90ZWYvnWRy8Y9vl2SoVJJ0cNiRAq/EX4yETWZ7EQd4mHOyaGQW1imus\n\
-----END PRIVATE KEY-----\n\
";

fn rsa_key(key: Key) -> &'static rsa::PrivateKey {
    static A: OnceLock<rsa::PrivateKey> = OnceLock::new();
    static B: OnceLock<rsa::PrivateKey> = OnceLock::new();
    static SMALL: OnceLock<rsa::PrivateKey> = OnceLock::new();
    let (cell, pem) = match key {
        Key::RsaA => (&A, RSA_A_PEM),
        Key::RsaB => (&B, RSA_B_PEM),
        Key::RsaSmall => (&SMALL, RSA_SMALL_PEM),
        _ => panic!("not an RSA key: {key:?}"),
    };
    cell.get_or_init(|| rsa::PrivateKey::from_pkcs8_pem(pem).unwrap())
}

fn ec_key(key: Key) -> p256::ecdsa::SigningKey {
    let pem = match key {
        Key::EcA => EC_A_PEM,
        Key::EcB => EC_B_PEM,
        _ => panic!("not an EC key: {key:?}"),
    };
    p256::ecdsa::SigningKey::from_pkcs8_pem(pem).unwrap()
}

fn is_rsa(key: Key) -> bool {
    matches!(key, Key::RsaA | Key::RsaB | Key::RsaSmall)
}

pub fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

fn unsigned_be(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// The RSA modulus, big-endian without leading zeros.
pub fn rsa_modulus(key: Key) -> Vec<u8> {
    unsigned_be(&rsa_key(key).n().as_ref().to_be_bytes()).to_vec()
}

/// The public JWK of `key` as a JSON object.
pub fn jwk_value(key: Key, kid: &str, alg: Option<&str>) -> Value {
    let mut jwk = if is_rsa(key) {
        let k = rsa_key(key);
        json!({
            "kty": "RSA",
            "n": b64(&rsa_modulus(key)),
            "e": b64(unsigned_be(&k.e().to_be_bytes())),
        })
    } else {
        let point = ec_key(key).verifying_key().to_sec1_point(false);
        let bytes = point.as_bytes();
        json!({
            "kty": "EC",
            "crv": "P-256",
            "x": b64(&bytes[1..33]),
            "y": b64(&bytes[33..65]),
        })
    };
    jwk["kid"] = json!(kid);
    jwk["use"] = json!("sig");
    if let Some(alg) = alg {
        jwk["alg"] = json!(alg);
    }
    jwk
}

/// The public JWK of `key` as JSON text.
pub fn jwk(key: Key, kid: &str, alg: Option<&str>) -> String {
    jwk_value(key, kid, alg).to_string()
}

/// A JWKS document holding `keys` (JSON texts).
pub fn jwks_json(keys: &[String]) -> String {
    format!(r#"{{"keys":[{}]}}"#, keys.join(","))
}

/// A deterministic RNG for PSS salts in tests only (not for anything real).
struct TestRng(u64);

impl rsa::rand_core::TryRng for TestRng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        self.try_next_u64().map(|v| v as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        Ok(self.0.wrapping_mul(0x2545_f491_4f6c_dd1d))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let v = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}

impl rsa::rand_core::TryCryptoRng for TestRng {}

/// Signs `signing_input` with `key` the way `alg` says (PS256, RS256, ES256).
pub fn signature(alg: &str, key: Key, signing_input: &[u8]) -> Vec<u8> {
    match alg {
        "RS256" => rsa::pkcs1v15::SigningKey::<Sha256>::new(rsa_key(key).clone())
            .sign(signing_input)
            .to_vec(),
        "PS256" => rsa::pss::SigningKey::<Sha256>::new(rsa_key(key).clone())
            .sign_with_rng(&mut TestRng(0x9e37_79b9_7f4a_7c15), signing_input)
            .to_vec(),
        "ES256" => {
            let sig: p256::ecdsa::Signature = ec_key(key).sign(signing_input);
            sig.to_bytes().to_vec()
        }
        other => panic!("no fixture signer for {other}"),
    }
}

/// A compact JWS of `header` and `claims`, signed by `key` with the header's `alg`.
pub fn sign(header: &Value, claims: &Value, key: Key) -> String {
    let alg = header["alg"].as_str().unwrap();
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = signature(alg, key, input.as_bytes());
    format!("{input}.{}", b64(&sig))
}

/// A compact JWS with `"alg":"HS256"` MACed with `secret`: the RS/HS confusion attack.
pub fn sign_hs256(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", b64(&mac.finalize().into_bytes()))
}

/// The claims of a WSO2 IS client-credentials token for the event polling endpoint, valid at [`NOW`].
pub fn app_claims() -> Value {
    json!({
        "sub": "admin@wso2.com@carbon.super",
        "aut": "APPLICATION",
        "aud": "9DkUjLZ5Vf3cF1qPzY7pPqE2dOsa",
        "nbf": NOW - 10,
        "azp": "9DkUjLZ5Vf3cF1qPzY7pPqE2dOsa",
        "client_id": "9DkUjLZ5Vf3cF1qPzY7pPqE2dOsa",
        "scope": "eventpolling openid",
        "iss": ISSUER,
        "cnf": {"x5t#S256": "k0p--ML7w1Bvx4fTZNCMWJLWyEeZNtSBnF4iSHJTN7E"},
        "exp": NOW + 3600,
        "iat": NOW - 10,
        "jti": "0b1c8f44-8a4e-4c53-a2d3-3b0c2e5b7d7e",
    })
}
