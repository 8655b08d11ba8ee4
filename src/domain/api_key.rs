//! API keys as the REST API sees them: the secret a client presents, the public id inside it,
//! the hash that is stored instead of the secret, the creditors a key may act for and, within
//! them, the segregation codes of the notices it may touch. Making a new secret needs
//! randomness and lives in `crate::keys`; everything here is pure.

use std::collections::BTreeSet;
use std::fmt;

use chrono::NaiveDateTime;

use super::position::DebtPosition;
use super::text::str_newtype;
use super::{FiscalCodePA, NoticeNumber, SegregationCode, Text};

/// Every secret starts with this, so that a leaked one is easy to recognise (and to grep for).
pub const PREFIX: &str = "gpd_";
/// Hex digits of the public id (48 bits: unique among the keys of one gateway).
const ID_HEX: usize = 12;
/// Hex digits of the secret part (160 random bits).
const SECRET_HEX: usize = 40;

/// Random bytes behind the id and the secret part of a new key.
pub const ID_BYTES: usize = ID_HEX / 2;
pub const SECRET_BYTES: usize = SECRET_HEX / 2;

/// The public part of a key: shown by `keys list`, written in logs, used to revoke it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(String);

impl KeyId {
    pub fn parse(s: &str) -> Result<KeyId, KeyError> {
        if is_lower_hex(s, ID_HEX) {
            Ok(KeyId(s.to_owned()))
        } else {
            Err(KeyError("a key id is 12 lowercase hexadecimal digits"))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError(pub &'static str);

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for KeyError {}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Bytes in lower-case hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A whole key as a client sends it: `gpd_<id>_<secret>`. Its `Debug` hides the secret part,
/// so that it cannot end up in a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeySecret(String);

impl ApiKeySecret {
    /// The key made of these random bytes.
    pub fn from_random(id: [u8; ID_BYTES], secret: [u8; SECRET_BYTES]) -> ApiKeySecret {
        ApiKeySecret(format!("{PREFIX}{}_{}", hex(&id), hex(&secret)))
    }

    /// A presented value in the shape of a key; anything else cannot be one of ours.
    pub fn parse(presented: &str) -> Option<ApiKeySecret> {
        let rest = presented.strip_prefix(PREFIX)?;
        let (id, secret) = rest.split_once('_')?;
        (is_lower_hex(id, ID_HEX) && is_lower_hex(secret, SECRET_HEX))
            .then(|| ApiKeySecret(presented.to_owned()))
    }

    /// The public id written inside the key.
    pub fn id(&self) -> KeyId {
        KeyId(self.0[PREFIX.len()..PREFIX.len() + ID_HEX].to_owned())
    }

    /// What is stored: the SHA-256 of the whole key.
    pub fn hash(&self) -> KeyHash {
        let digest = ring::digest::digest(&ring::digest::SHA256, self.0.as_bytes());
        KeyHash(digest.as_ref().try_into().expect("SHA-256 is 32 bytes"))
    }

    /// The secret itself, to show once to whoever created the key.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKeySecret({PREFIX}{}_…)", self.id())
    }
}

/// SHA-256 of a key. The secrets carry 160 random bits, so a plain (unsalted, fast) hash is
/// enough: nobody can search that space, and a lookup by hash stays one index read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash(pub [u8; 32]);

/// What a key's reach is counted in: creditors, or segregation codes within them.
pub trait ScopeItem: Ord + fmt::Display {
    /// How a scope of all of them is shown.
    const ALL: &'static str;
    /// Why a scope of none of them is refused.
    const NONE: &'static str;
}

impl ScopeItem for FiscalCodePA {
    const ALL: &'static str = "all organizations";
    const NONE: &'static str = "a key must be bound to at least one organization";
}

impl ScopeItem for SegregationCode {
    const ALL: &'static str = "all segregation codes";
    const NONE: &'static str = "a key's segregation codes cannot be an empty list";
}

/// A key's reach: all of a kind, or only some (never none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope<T> {
    All,
    Only(BTreeSet<T>),
}

impl<T: ScopeItem> Scope<T> {
    /// Only `items`; refused when there are none.
    pub fn only(items: impl IntoIterator<Item = T>) -> Result<Scope<T>, KeyError> {
        let set: BTreeSet<T> = items.into_iter().collect();
        if set.is_empty() {
            return Err(KeyError(T::NONE));
        }
        Ok(Scope::Only(set))
    }
}

impl<T: ScopeItem> fmt::Display for Scope<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::All => f.write_str(T::ALL),
            Scope::Only(items) => {
                let items: Vec<String> = items.iter().map(ToString::to_string).collect();
                f.write_str(&items.join(","))
            }
        }
    }
}

/// The creditors a key may act for. All of them (those configured later included) is for an
/// intermediary acting for all its creditors, or for operators' tools: only ever given
/// explicitly.
pub type KeyScope = Scope<FiscalCodePA>;

impl KeyScope {
    /// Whether the key may act for the organization named in a request path (as written there).
    pub fn allows(&self, organization: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Only(codes) => codes.iter().any(|c| c.as_str() == organization),
        }
    }
}

/// The segregation codes a key may act on, within its creditors: as PagoPA's API gateway lets
/// an intermediary act for some codes of a creditor only. A code is the first two digits of an
/// IUV (aux digit 3), so of a notice number after its aux digit. All of them unless made with
/// some.
pub type SegregationScope = Scope<SegregationCode>;

// Not derived on `Scope`: a key bound to all creditors is only ever given explicitly.
#[allow(clippy::derivable_impls)]
impl Default for SegregationScope {
    fn default() -> Self {
        Scope::All
    }
}

impl SegregationScope {
    /// Reads `01,02` (GPD's `segregationCodes`: two digits each, comma-separated).
    pub fn parse_list(list: &str) -> Result<BTreeSet<SegregationCode>, KeyError> {
        list.split(',')
            .map(|c| {
                SegregationCode::parse(c)
                    .map_err(|_| KeyError("two-digit codes separated by commas, such as 01,02"))
            })
            .collect()
    }

    pub fn allows(&self, code: SegregationCode) -> bool {
        match self {
            Scope::All => true,
            Scope::Only(codes) => codes.contains(&code),
        }
    }

    /// Whether an IUV as written may be touched: its first two characters are an allowed code.
    pub fn allows_iuv(&self, iuv: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Only(_) => iuv
                .get(..2)
                .and_then(|c| SegregationCode::parse(c).ok())
                .is_some_and(|c| self.allows(c)),
        }
    }

    /// Whether a notice may be touched: the code after its aux digit is allowed.
    pub fn allows_notice(&self, notice: &NoticeNumber) -> bool {
        self.allows_iuv(&notice.as_str()[1..])
    }

    /// Whether a position may be touched: every option's IUV is of an allowed code (GPD looks
    /// at the first option only; a key must not reach the others through it).
    pub fn allows_position(&self, position: &DebtPosition) -> bool {
        position
            .options
            .iter()
            .all(|o| self.allows(o.iuv.segregation_code()))
    }

    /// The codes a list shows when these are `asked` (`None`: no filter), within the key's;
    /// `None` when nothing narrows it.
    pub fn within(
        &self,
        asked: Option<BTreeSet<SegregationCode>>,
    ) -> Option<BTreeSet<SegregationCode>> {
        match (self, asked) {
            (Scope::All, asked) => asked,
            (Scope::Only(codes), None) => Some(codes.clone()),
            (Scope::Only(codes), Some(asked)) => {
                Some(codes.intersection(&asked).copied().collect())
            }
        }
    }
}

/// A key as stored, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: KeyId,
    pub label: Option<Text<70>>,
    pub scope: KeyScope,
    pub segregation: SegregationScope,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

impl ApiKey {
    /// Revocation takes effect at once, whatever time it was recorded with.
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

str_newtype!(KeyId);

#[cfg(test)]
mod tests {
    use super::*;

    fn fc(s: &str) -> FiscalCodePA {
        FiscalCodePA::parse(s).unwrap()
    }

    #[test]
    fn a_new_key_parses_back_with_its_id() {
        let key = ApiKeySecret::from_random([0xab, 0, 1, 2, 3, 0xff], [7; SECRET_BYTES]);
        assert_eq!(
            key.reveal(),
            "gpd_ab00010203ff_0707070707070707070707070707070707070707"
        );
        assert_eq!(key.id().as_str(), "ab00010203ff");
        assert_eq!(ApiKeySecret::parse(key.reveal()), Some(key.clone()));
        assert_eq!(KeyId::parse("ab00010203ff"), Ok(key.id()));
    }

    #[test]
    fn anything_not_shaped_like_a_key_is_refused() {
        let good = "gpd_ab00010203ff_0707070707070707070707070707070707070707";
        assert!(ApiKeySecret::parse(good).is_some());
        for bad in [
            "",
            "gpd_",
            "ab00010203ff_0707070707070707070707070707070707070707",
            "xyz_ab00010203ff_0707070707070707070707070707070707070707",
            "gpd_AB00010203FF_0707070707070707070707070707070707070707",
            "gpd_ab00010203f_0707070707070707070707070707070707070707",
            "gpd_ab00010203ff_07070707070707070707070707070707070707070",
            "gpd_ab00010203ff-0707070707070707070707070707070707070707",
            "gpd_ab00010203ff_070707070707070707070707070707070707070g",
            "gpd_ab00010203ff_0707070707070707070707070707070707070707 ",
        ] {
            assert!(ApiKeySecret::parse(bad).is_none(), "{bad:?}");
        }
        assert!(KeyId::parse("ab00010203f").is_err());
        assert!(KeyId::parse("AB00010203FF").is_err());
    }

    #[test]
    fn the_hash_is_sha256_of_the_whole_key() {
        let key = ApiKeySecret::from_random([0; ID_BYTES], [0; SECRET_BYTES]);
        let other = ApiKeySecret::from_random([0; ID_BYTES], [1; SECRET_BYTES]);
        assert_ne!(key.hash(), other.hash());
        // sha256("abc"), the FIPS 180-2 example, through the same function.
        let abc = ApiKeySecret("abc".into()).hash();
        assert_eq!(
            hex(&abc.0),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let key = ApiKeySecret::from_random([1; ID_BYTES], [0xee; SECRET_BYTES]);
        let shown = format!("{key:?}");
        assert!(shown.contains("010101010101"), "{shown}");
        assert!(!shown.contains("eeee"), "{shown}");
    }

    fn codes(list: &str) -> BTreeSet<SegregationCode> {
        SegregationScope::parse_list(list).unwrap()
    }

    #[test]
    fn segregation_codes_narrow_a_key() {
        let only = SegregationScope::only(codes("01,02")).unwrap();
        assert!(only.allows_iuv("01000000000000144"));
        assert!(only.allows_iuv("02"));
        assert!(!only.allows_iuv("03000000000000144"));
        assert!(!only.allows_iuv("0"));
        assert!(!only.allows_iuv("x1"));
        assert!(!only.allows_iuv(""));
        let notice = NoticeNumber::parse("302000000000000144").unwrap();
        assert!(only.allows_notice(&notice));
        let notice = NoticeNumber::parse("301000000000000144").unwrap();
        assert!(
            !SegregationScope::only(codes("02"))
                .unwrap()
                .allows_notice(&notice)
        );
        assert!(Scope::All.allows_iuv("anything"));
        assert_eq!(only.to_string(), "01,02");

        assert_eq!(only.within(None), Some(codes("01,02")));
        assert_eq!(only.within(Some(codes("02,03"))), Some(codes("02")));
        assert_eq!(only.within(Some(codes("03"))), Some(BTreeSet::new()));
        assert_eq!(Scope::All.within(None), None);
        assert_eq!(Scope::All.within(Some(codes("03"))), Some(codes("03")));

        assert_eq!(codes("02,01,02"), codes("01,02"));
        for bad in ["", "1", "01,", "01;02", "001", "01, 02"] {
            assert!(SegregationScope::parse_list(bad).is_err(), "{bad:?}");
        }
        assert!(SegregationScope::only([]).is_err());
    }

    #[test]
    fn a_scope_allows_its_organizations_only() {
        let scope = KeyScope::only([fc("88888888888"), fc("77777777777")]).unwrap();
        assert!(scope.allows("77777777777"));
        assert!(scope.allows("88888888888"));
        assert!(!scope.allows("99999999999"));
        assert!(!scope.allows("7777777777"));
        assert!(!scope.allows(""));
        assert_eq!(scope.to_string(), "77777777777,88888888888");
        assert!(KeyScope::All.allows("99999999999"));
        assert!(KeyScope::All.allows("not-a-code"));
        assert_eq!(
            KeyScope::only([]),
            Err(KeyError("a key must be bound to at least one organization"))
        );
    }
}
