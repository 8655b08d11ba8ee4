//! The parties and shared pieces of the protocol's messages, of debt positions and of
//! receipts: who pays or owes (ctSubject with its identifier, e-mail and country) and the
//! metadata entries (ctMapEntry). Their own file, so that the messages, the position model and
//! the services can all use them without importing each other.

use super::Text;
use super::ids::{IdError, kept};
use super::text::str_newtype;

/// A metadata entry (ctMapEntry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapEntry {
    pub key: Text<140>,
    pub value: Text<140>,
}

/// Natural (F) or legal (G) person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityType {
    F,
    G,
}

impl EntityType {
    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::F => "F",
            EntityType::G => "G",
        }
    }
    pub fn parse(s: &str) -> Option<EntityType> {
        match s {
            "F" => Some(EntityType::F),
            "G" => Some(EntityType::G),
            _ => None,
        }
    }
}

/// A fiscal code or VAT number of a subject (stEntityUniqueIdentifierValue): 2..16 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityId(String);

impl EntityId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let sized = (2..=16).contains(&s.chars().count());
        kept(s, sized && !s.trim().is_empty(), "be 2 to 16 characters").map(EntityId)
    }
    /// Accepts what the XSD facet accepts (2..16 characters), whitespace included, as the wire
    /// decoders must.
    pub fn parse_xsd(s: &str) -> Result<Self, IdError> {
        let sized = (2..=16).contains(&s.chars().count());
        kept(s, sized, "be 2 to 16 characters").map(EntityId)
    }
}

/// Two capital letters (stNazioneProvincia): a country or a province.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountryCode(String);

impl CountryCode {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let capitals = s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase());
        kept(s, capitals, "be two capital letters").map(CountryCode)
    }
}

/// An e-mail address as the XSD accepts it (stEMail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let local_ok = |p: &str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.+-".contains(&b))
        };
        let label_ok =
            |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let valid = s.len() <= 256
            && s.split_once('@')
                .is_some_and(|(local, domain)| local_ok(local) && domain.split('.').all(label_ok));
        let must = "be an e-mail address (name@domain) of at most 256 characters";
        kept(s, valid, must).map(Email)
    }
}

/// A payer or debtor (ctSubject).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub entity_type: EntityType,
    pub entity_id: EntityId,
    pub full_name: Text<70>,
    pub street_name: Option<Text<70>>,
    pub civic_number: Option<Text<16>>,
    pub postal_code: Option<Text<16>>,
    pub city: Option<Text<35>>,
    pub state_province_region: Option<Text<35>>,
    pub country: Option<CountryCode>,
    pub email: Option<Email>,
}

impl Subject {
    /// A subject known by identifier and name only, with no address or e-mail.
    pub fn named(entity_type: EntityType, entity_id: EntityId, full_name: Text<70>) -> Subject {
        Subject {
            entity_type,
            entity_id,
            full_name,
            street_name: None,
            civic_number: None,
            postal_code: None,
            city: None,
            state_province_region: None,
            country: None,
            email: None,
        }
    }
}

str_newtype!(EntityId, CountryCode, Email);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_follows_the_xsd_pattern() {
        assert!(Email::parse("mario.rossi+tag@example-mail.it").is_ok());
        for bad in ["mario", "@x.it", "a@", "a@b..it", "a b@c.it", "a@b.it."] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn entity_id_is_2_to_16() {
        assert!(EntityId::parse("A").is_err());
        assert!(EntityId::parse("RSSMRA80A01H501U").is_ok());
        assert!(EntityId::parse("RSSMRA80A01H501UX").is_err());
    }
}
