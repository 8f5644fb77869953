//! The eIDAS PSD2 qcStatement (ETSI TS 119 495): which roles a TPP's qualified certificate grants, and which
//! national competent authority (NCA) authorised it.
//!
//! ```text
//! qcStatements extension (1.3.6.1.5.5.7.1.3) ::= SEQUENCE OF QCStatement
//! QCStatement ::= SEQUENCE { statementId OBJECT IDENTIFIER, statementInfo ANY OPTIONAL }
//! PSD2 statement id: 0.4.0.19495.2, statementInfo:
//! PSD2QCType ::= SEQUENCE { rolesOfPSP RolesOfPSP, nCAName NCAName, nCAId NCAId }
//! RolesOfPSP ::= SEQUENCE OF RoleOfPSP
//! RoleOfPSP  ::= SEQUENCE { roleOfPspOid OBJECT IDENTIFIER, roleOfPspName UTF8String (SIZE(1..256)) }
//! NCAName ::= UTF8String (SIZE (1..256)),  NCAId ::= UTF8String (SIZE (1..256))
//! ```
//!
//! Decisions (as WSO2 does, DIGEST-wso2 §1.4, unless said otherwise):
//! - Like WSO2, the extension may hold a single `QCStatement` instead of a `SEQUENCE OF` (seen in the wild).
//! - A role's OID and name must agree (`0.4.0.19495.1.3` ↔ `PSP_AI`, exact spelling). A known OID with
//!   another name, or a known name with another OID, makes the **whole statement invalid**
//!   ([`EidasError::RoleInconsistent`]), not just that role: a certificate that says two different things
//!   about what its holder may do is not evidence of either. A role with an unknown OID *and* an unknown name
//!   is ignored (a future role this filter does not know).
//! - Any structural error (wrong tags, missing or extra fields, empty or over-long strings, two PSD2
//!   statements) is [`EidasError::Malformed`].
//! - An invalid statement is recorded in the facts ([`Psd2Status::Invalid`]) rather than failing the parse:
//!   the certificate is refused for it only when the policy requires roles (see `rules`).

use std::fmt;
use std::str::FromStr;

use der::asn1::{AnyRef, ObjectIdentifier};
use der::{Decode, Reader, SliceReader, Tag, Tagged};

/// OID of the qcStatements certificate extension (RFC 3739).
pub const QC_STATEMENTS_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.3");
/// OID of the PSD2 QCStatement (ETSI TS 119 495 `id-etsi-psd2-qcStatement`).
pub const PSD2_STATEMENT_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.19495.2");

const ROLE_AS: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.19495.1.1");
const ROLE_PI: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.19495.1.2");
const ROLE_AI: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.19495.1.3");
const ROLE_IC: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.19495.1.4");

/// Most items read from any one SEQUENCE of the statement (statements, roles).
const MAX_ITEMS: usize = 32;
/// Longest role name, NCA name, NCA id, in characters (ETSI `SIZE (1..256)`).
const MAX_STRING_CHARS: usize = 256;

/// A PSD2 role of a payment service provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Account servicing (`PSP_AS`, `0.4.0.19495.1.1`): ASPSP.
    Aspsp,
    /// Payment initiation (`PSP_PI`, `0.4.0.19495.1.2`): PISP.
    Pisp,
    /// Account information (`PSP_AI`, `0.4.0.19495.1.3`): AISP.
    Aisp,
    /// Issuing of card-based payment instruments (`PSP_IC`, `0.4.0.19495.1.4`): CBPII.
    Cbpii,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [Role::Aspsp, Role::Pisp, Role::Aisp, Role::Cbpii];

    /// The role's OID in the qcStatement.
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            Role::Aspsp => ROLE_AS,
            Role::Pisp => ROLE_PI,
            Role::Aisp => ROLE_AI,
            Role::Cbpii => ROLE_IC,
        }
    }

    /// The role's name in the qcStatement (`PSP_AI`, …).
    pub fn psp_name(self) -> &'static str {
        match self {
            Role::Aspsp => "PSP_AS",
            Role::Pisp => "PSP_PI",
            Role::Aisp => "PSP_AI",
            Role::Cbpii => "PSP_IC",
        }
    }

    /// The PSD2 / Open Banking name (`AISP`, …).
    pub fn psd2_name(self) -> &'static str {
        match self {
            Role::Aspsp => "ASPSP",
            Role::Pisp => "PISP",
            Role::Aisp => "AISP",
            Role::Cbpii => "CBPII",
        }
    }

    /// The role an OID denotes, if any.
    pub fn from_oid(oid: &ObjectIdentifier) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.oid() == *oid)
    }

    /// The role a qcStatement `roleOfPspName` denotes (exact spelling, `PSP_AI`), if any.
    pub fn from_psp_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.psp_name() == name)
    }

    /// The role a configuration names: either style (`PSP_AI` or `AISP`), any case, surrounding spaces
    /// ignored.
    pub fn from_config_name(name: &str) -> Option<Role> {
        let name = name.trim();
        Role::ALL.into_iter().find(|r| {
            r.psp_name().eq_ignore_ascii_case(name) || r.psd2_name().eq_ignore_ascii_case(name)
        })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.psd2_name())
    }
}

/// The configuration name is not a PSD2 role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownRole;

impl fmt::Display for UnknownRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown PSD2 role (expected one of ASPSP, PISP, AISP, CBPII, PSP_AS, PSP_PI, PSP_AI, PSP_IC)")
    }
}

impl std::error::Error for UnknownRole {}

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        Role::from_config_name(s).ok_or(UnknownRole)
    }
}

impl<'de> serde::Deserialize<'de> for Role {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Role, D::Error> {
        let s = String::deserialize(d)?;
        Role::from_config_name(&s).ok_or_else(|| serde::de::Error::custom(UnknownRole))
    }
}

/// What the PSD2 qcStatement says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Psd2Attributes {
    /// The roles, in certificate order, without repeats (roles with unknown OID and name left out).
    pub roles: Vec<Role>,
    /// `nCAName`, e.g. `Financial Conduct Authority`.
    pub nca_name: String,
    /// `nCAId`, e.g. `GB-FCA`.
    pub nca_id: String,
}

/// Why a PSD2 qcStatement is unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EidasError {
    /// Not the ASN.1 shape above. The detail is a fixed phrase.
    Malformed(&'static str),
    /// A role's OID and name disagree.
    RoleInconsistent,
}

/// The PSD2 qcStatement of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Psd2Status {
    /// No qcStatements extension, or no PSD2 statement in it.
    Absent,
    /// A well-formed PSD2 statement.
    Present(Psd2Attributes),
    /// A PSD2 statement (or the qcStatements extension around it) that is malformed.
    Invalid(EidasError),
}

impl Psd2Status {
    /// The roles, if the statement is present and valid.
    pub fn roles(&self) -> Option<&[Role]> {
        match self {
            Psd2Status::Present(p) => Some(&p.roles),
            _ => None,
        }
    }
}

fn malformed(detail: &'static str) -> EidasError {
    EidasError::Malformed(detail)
}

/// The items of a SEQUENCE (at most [`MAX_ITEMS`]).
fn sequence_items(any: AnyRef<'_>) -> Result<Vec<AnyRef<'_>>, EidasError> {
    if any.tag() != Tag::Sequence {
        return Err(malformed("expected a SEQUENCE"));
    }
    let mut reader = SliceReader::new(any.value()).map_err(|_| malformed("bad DER"))?;
    let mut items = Vec::new();
    while !reader.is_finished() {
        if items.len() >= MAX_ITEMS {
            return Err(malformed("too many items"));
        }
        items.push(
            reader
                .decode::<AnyRef<'_>>()
                .map_err(|_| malformed("bad DER"))?,
        );
    }
    Ok(items)
}

fn read_oid(any: AnyRef<'_>) -> Result<ObjectIdentifier, EidasError> {
    if any.tag() != Tag::ObjectIdentifier {
        return Err(malformed("expected an OBJECT IDENTIFIER"));
    }
    any.decode_as::<ObjectIdentifier>()
        .map_err(|_| malformed("bad OBJECT IDENTIFIER"))
}

fn read_utf8(any: AnyRef<'_>) -> Result<String, EidasError> {
    if any.tag() != Tag::Utf8String {
        return Err(malformed("expected a UTF8String"));
    }
    let s = std::str::from_utf8(any.value()).map_err(|_| malformed("bad UTF8String"))?;
    let chars = s.chars().count();
    if chars == 0 || chars > MAX_STRING_CHARS {
        return Err(malformed("string length out of range"));
    }
    Ok(s.to_owned())
}

/// Parses the qcStatements extension value (the content of `extnValue`) and returns the PSD2 statement, if
/// there is one. Other statements (QcCompliance, QcType, …) are skipped after a shape check.
pub fn parse_qc_statements(extn_value: &[u8]) -> Result<Option<Psd2Attributes>, EidasError> {
    let outer = AnyRef::from_der(extn_value).map_err(|_| malformed("bad DER"))?;
    let items = sequence_items(outer)?;
    // A single QCStatement instead of a SEQUENCE OF: its first item is the statement id.
    let statements = match items.first() {
        Some(first) if first.tag() == Tag::ObjectIdentifier => vec![outer],
        _ => items,
    };
    let mut found: Option<Psd2Attributes> = None;
    for statement in statements {
        let mut fields = sequence_items(statement)?.into_iter();
        let id = read_oid(
            fields
                .next()
                .ok_or_else(|| malformed("empty QCStatement"))?,
        )?;
        let info = fields.next();
        if fields.next().is_some() {
            return Err(malformed("extra data in a QCStatement"));
        }
        if id != PSD2_STATEMENT_OID {
            continue;
        }
        if found.is_some() {
            return Err(malformed("more than one PSD2 statement"));
        }
        let info = info.ok_or_else(|| malformed("PSD2 statement without PSD2QCType"))?;
        found = Some(parse_psd2_qc_type(info)?);
    }
    Ok(found)
}

/// `PSD2QCType ::= SEQUENCE { rolesOfPSP, nCAName, nCAId }`.
fn parse_psd2_qc_type(info: AnyRef<'_>) -> Result<Psd2Attributes, EidasError> {
    let mut fields = sequence_items(info)?.into_iter();
    let (Some(roles), Some(nca_name), Some(nca_id), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(malformed("PSD2QCType is not three fields"));
    };
    let mut out = Vec::new();
    for role in sequence_items(roles)? {
        let mut parts = sequence_items(role)?.into_iter();
        let (Some(role_oid), Some(role_name), None) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed("RoleOfPSP is not two fields"));
        };
        let role_oid = read_oid(role_oid)?;
        let role_name = read_utf8(role_name)?;
        match (Role::from_oid(&role_oid), Role::from_psp_name(&role_name)) {
            (Some(a), Some(b)) if a == b => {
                if !out.contains(&a) {
                    out.push(a);
                }
            }
            (None, None) => {}
            _ => return Err(EidasError::RoleInconsistent),
        }
    }
    Ok(Psd2Attributes {
        roles: out,
        nca_name: read_utf8(nca_name)?,
        nca_id: read_utf8(nca_id)?,
    })
}

/// Tiny DER writer for tests (and the fixture generator): enough to build qcStatements by hand.
#[cfg(test)]
pub(crate) mod der_build {
    /// A TLV with the given tag byte.
    pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = content.len();
        if len < 0x80 {
            out.push(len as u8);
        } else if len < 0x100 {
            out.extend([0x81, len as u8]);
        } else {
            out.extend([0x82, (len >> 8) as u8, len as u8]);
        }
        out.extend_from_slice(content);
        out
    }
    pub fn seq(items: &[Vec<u8>]) -> Vec<u8> {
        tlv(0x30, &items.concat())
    }
    pub fn utf8(s: &str) -> Vec<u8> {
        tlv(0x0c, s.as_bytes())
    }
    /// An OID from dotted text (arcs < 2^28; first two arcs ≤ 2 and < 40).
    pub fn oid(dotted: &str) -> Vec<u8> {
        let arcs: Vec<u64> = dotted.split('.').map(|a| a.parse().unwrap()).collect();
        let mut body = vec![(arcs[0] * 40 + arcs[1]) as u8];
        for &arc in &arcs[2..] {
            let mut chunk = vec![(arc & 0x7f) as u8];
            let mut rest = arc >> 7;
            while rest > 0 {
                chunk.push(((rest & 0x7f) as u8) | 0x80);
                rest >>= 7;
            }
            chunk.reverse();
            body.extend(chunk);
        }
        tlv(0x06, &body)
    }
    pub fn role(oid_text: &str, name: &str) -> Vec<u8> {
        seq(&[oid(oid_text), utf8(name)])
    }
    /// A PSD2 QCStatement with the given roles.
    pub fn psd2_statement(roles: &[Vec<u8>], nca_name: &str, nca_id: &str) -> Vec<u8> {
        seq(&[
            oid("0.4.0.19495.2"),
            seq(&[seq(roles), utf8(nca_name), utf8(nca_id)]),
        ])
    }
    /// The etsi QcCompliance statement (no info).
    pub fn qc_compliance() -> Vec<u8> {
        seq(&[oid("0.4.0.1862.1.1")])
    }
}

#[cfg(test)]
mod tests {
    use super::der_build::*;
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const AI: &str = "0.4.0.19495.1.3";
    const PI: &str = "0.4.0.19495.1.2";

    fn fca(roles: &[Vec<u8>]) -> Vec<u8> {
        psd2_statement(roles, "Financial Conduct Authority", "GB-FCA")
    }

    #[test]
    fn reads_roles_and_nca() {
        let ext = seq(&[
            qc_compliance(),
            fca(&[role(AI, "PSP_AI"), role(PI, "PSP_PI"), role(AI, "PSP_AI")]),
        ]);
        let p = parse_qc_statements(&ext).unwrap().unwrap();
        assert_eq!(p.roles, vec![Role::Aisp, Role::Pisp]);
        assert_eq!(p.nca_name, "Financial Conduct Authority");
        assert_eq!(p.nca_id, "GB-FCA");
    }

    #[test]
    fn a_single_statement_without_the_outer_sequence_is_accepted() {
        let ext = fca(&[role("0.4.0.19495.1.1", "PSP_AS")]);
        let p = parse_qc_statements(&ext).unwrap().unwrap();
        assert_eq!(p.roles, vec![Role::Aspsp]);
    }

    #[test]
    fn no_psd2_statement_is_none() {
        assert_eq!(parse_qc_statements(&seq(&[qc_compliance()])), Ok(None));
        assert_eq!(parse_qc_statements(&seq(&[])), Ok(None));
    }

    #[test]
    fn unknown_roles_are_skipped_inconsistent_roles_are_refused() {
        let ext = seq(&[fca(&[
            role("0.4.0.19495.1.9", "PSP_XX"),
            role(AI, "PSP_AI"),
        ])]);
        assert_eq!(
            parse_qc_statements(&ext).unwrap().unwrap().roles,
            vec![Role::Aisp]
        );
        for bad in [
            role(AI, "PSP_PI"),
            role(AI, "psp_ai"),
            role(AI, "AISP"),
            role("0.4.0.19495.1.9", "PSP_AI"),
        ] {
            let ext = seq(&[fca(&[role(PI, "PSP_PI"), bad])]);
            assert_eq!(parse_qc_statements(&ext), Err(EidasError::RoleInconsistent));
        }
    }

    #[test]
    fn wrong_shapes_are_malformed() {
        let long = "x".repeat(257);
        let cases: Vec<Vec<u8>> = vec![
            vec![],
            vec![0x30],
            vec![0x30, 0x05, 0x06],
            vec![0x04, 0x00],
            // Trailing garbage after the extension value.
            [seq(&[qc_compliance()]), vec![0]].concat(),
            // Statement that is not a SEQUENCE.
            seq(&[utf8("x")]),
            // Statement with a non-OID id.
            seq(&[seq(&[utf8("x")])]),
            // Statement with three fields.
            seq(&[seq(&[oid("0.4.0.1862.1.1"), utf8("a"), utf8("b")])]),
            // PSD2 statement without info.
            seq(&[seq(&[oid("0.4.0.19495.2")])]),
            // PSD2QCType not a SEQUENCE.
            seq(&[seq(&[oid("0.4.0.19495.2"), utf8("x")])]),
            // PSD2QCType with two fields.
            seq(&[seq(&[
                oid("0.4.0.19495.2"),
                seq(&[seq(&[role(AI, "PSP_AI")]), utf8("FCA")]),
            ])]),
            // PSD2QCType with four fields.
            seq(&[seq(&[
                oid("0.4.0.19495.2"),
                seq(&[seq(&[]), utf8("a"), utf8("b"), utf8("c")]),
            ])]),
            // Roles not a SEQUENCE OF SEQUENCE.
            seq(&[fca(&[oid(AI)])]),
            // Role with its name as PrintableString.
            seq(&[fca(&[seq(&[oid(AI), tlv(0x13, b"PSP_AI")])])]),
            // Role with three fields.
            seq(&[fca(&[seq(&[oid(AI), utf8("PSP_AI"), utf8("x")])])]),
            // Role with one field.
            seq(&[fca(&[seq(&[oid(AI)])])]),
            // NCA name empty, too long, not UTF-8.
            seq(&[psd2_statement(&[], "", "GB-FCA")]),
            seq(&[psd2_statement(&[], &long, "GB-FCA")]),
            seq(&[seq(&[
                oid("0.4.0.19495.2"),
                seq(&[seq(&[]), tlv(0x0c, &[0xff, 0xfe]), utf8("GB-FCA")]),
            ])]),
            // NCA id as PrintableString.
            seq(&[seq(&[
                oid("0.4.0.19495.2"),
                seq(&[seq(&[]), utf8("FCA"), tlv(0x13, b"GB-FCA")]),
            ])]),
            // Two PSD2 statements.
            seq(&[fca(&[]), fca(&[])]),
            // Bad OID encoding.
            seq(&[seq(&[tlv(0x06, &[0x80])])]),
            // Too many statements.
            seq(&vec![qc_compliance(); MAX_ITEMS + 1]),
        ];
        for (i, case) in cases.iter().enumerate() {
            assert!(
                matches!(parse_qc_statements(case), Err(EidasError::Malformed(_))),
                "case {i}: {:?}",
                parse_qc_statements(case)
            );
        }
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let ext = seq(&[qc_compliance(), fca(&[role(AI, "PSP_AI")])]);
        for end in 0..ext.len() {
            assert!(parse_qc_statements(ext.get(..end).unwrap()).is_err());
        }
        for i in 0..ext.len() {
            for v in [0x00, 0x30, 0x06, 0x0c, 0x80, 0xff] {
                let mut copy = ext.clone();
                copy[i] = v;
                let _ = parse_qc_statements(&copy);
            }
        }
    }

    #[test]
    fn configuration_names_accept_both_styles() {
        for (name, role) in [
            ("AISP", Role::Aisp),
            ("psp_ai", Role::Aisp),
            (" PSP_PI ", Role::Pisp),
            ("pisp", Role::Pisp),
            ("CBPII", Role::Cbpii),
            ("PSP_IC", Role::Cbpii),
            ("ASPSP", Role::Aspsp),
            ("PSP_AS", Role::Aspsp),
        ] {
            assert_eq!(name.parse::<Role>(), Ok(role));
        }
        assert!("PSP".parse::<Role>().is_err());
        let roles: Vec<Role> = serde_json::from_str(r#"["AISP","PSP_PI"]"#).unwrap();
        assert_eq!(roles, vec![Role::Aisp, Role::Pisp]);
        assert!(serde_json::from_str::<Vec<Role>>(r#"["TPP"]"#).is_err());
        assert_eq!(Role::Aisp.to_string(), "AISP");
        assert_eq!(Role::Aisp.oid().to_string(), AI);
    }
}
