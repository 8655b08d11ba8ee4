//! The creditor REST API (GPD v1 shapes), one file per resource: debt positions
//! ([`positions`], [`bulk`]), payment options ([`payment_options`]), receipts ([`receipts`] and
//! gpd-payments' [`payments`]), broadcast stations and deliveries ([`broadcast`]), files of
//! positions ([`upload`]) and the data subjects' requests ([`debtors`]); who may call them is [`auth`]. Handlers take the call on the
//! creditor of the path ([`OnCreditor`]), the other path parameters and the raw body, apply the
//! domain rules through the store and return `Result<Reply, Problem>`, the error a problem body
//! (`title`, `status`, `detail`) that names the offending field.
//!
//! Shared here: the creditor of the path, the JSON body, `If-Match`, and the refusals of what
//! lies outside an API key's segregation codes.

pub mod aca;
pub mod auth;
pub mod broadcast;
pub mod bulk;
pub mod debtors;
pub mod events;
pub mod notice_jobs;
pub mod notices;
pub mod odp;
pub mod payment_options;
pub mod payments;
pub mod positions;
mod query;
pub mod receipts;
pub mod recovery;
mod reply;
pub mod reporting;
pub mod send;
pub mod streamed;
pub mod upload;

pub use reply::{Problem, Reply, bad_request, etag};

use crate::context::Context;
use crate::domain::api_key::SegregationScope;
use crate::domain::creditor::Creditor;
use crate::domain::position::{DebtPosition, FieldError, Iupd, Refusal};
use crate::json;
use crate::store::{Expected, Mutation, PositionKey};

/// Reads an `If-Match` header into the versions a write may apply to: `*` (or no header)
/// admits any; otherwise the versions of the strong tags listed (a weak or foreign tag never
/// matches, as RFC 9110 wants).
pub fn if_match(header: Option<&str>) -> Result<Expected, Problem> {
    let Some(value) = header else {
        return Ok(Expected::Any);
    };
    let mut versions = Vec::new();
    for tag in value.split(',').map(str::trim) {
        if tag == "*" {
            return Ok(Expected::Any);
        }
        let opaque = tag.strip_prefix("W/").unwrap_or(tag);
        let Some(inner) = opaque
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .filter(|t| !t.contains('"'))
        else {
            return Err(bad_request(format!(
                "If-Match: '{value}' must be * or entity tags such as \"3\""
            )));
        };
        if !tag.starts_with("W/")
            && let Ok(v) = inner.parse::<i64>()
        {
            versions.push(v);
        }
    }
    Ok(Expected::OneOf(versions))
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
    json::decode(body).map_err(bad_request)
}

/// Every field error of a body, in one 400.
fn invalid(errors: Vec<FieldError>) -> Problem {
    bad_request(
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// A call on one of the configured creditors, by a key that may act for it: what every
/// handler of a creditor's resources starts from.
#[derive(Clone, Copy)]
pub struct OnCreditor<'a> {
    pub ctx: &'a Context,
    pub creditor: &'a Creditor,
    /// What the key may touch of the creditor's notices.
    pub segregation: &'a SegregationScope,
}

impl<'a> OnCreditor<'a> {
    /// A call on the creditor named in the path (`fiscal_code`), if we serve it.
    pub fn new(
        ctx: &'a Context,
        fiscal_code: &str,
        segregation: &'a SegregationScope,
    ) -> Result<OnCreditor<'a>, Problem> {
        let Ok(parsed) = crate::domain::FiscalCodePA::parse(fiscal_code) else {
            return Err(bad_request(format!(
                "organizationFiscalCode: '{fiscal_code}' must be exactly 11 digits"
            )));
        };
        let creditor = ctx.config.creditors.get(&parsed).ok_or_else(|| {
            reply::not_found(format!(
                "organization {fiscal_code} is not served by this gateway"
            ))
        })?;
        Ok(OnCreditor {
            ctx,
            creditor,
            segregation,
        })
    }

    /// The creditor's fiscal code, as the path writes it (11 digits, nothing else).
    pub fn org(&self) -> &'a str {
        self.creditor.fiscal_code.as_str()
    }

    /// The refusal of a notice (IUV or notice number, as written) outside the key's codes.
    fn forbidden_notice(&self, identifier: &str) -> Problem {
        reply::forbidden(format!(
            "the API key acts for segregation codes {} of organization {} only; \
             {identifier} is of another",
            self.segregation,
            self.org()
        ))
    }

    /// The refusal of a position with options outside the key's codes.
    fn forbidden_position(&self, iupd: &Iupd) -> Problem {
        reply::forbidden(self.position_out_of_reach(iupd))
    }

    fn position_out_of_reach(&self, iupd: &Iupd) -> String {
        position_out_of_reach(self.org(), iupd, self.segregation)
    }

    /// The check, run inside the store's transaction, that the key reaches a stored position:
    /// it sees the options a change or a deletion would apply to.
    fn reach_check(&self) -> impl Fn(&DebtPosition) -> Result<(), Refusal> + Send + 'static {
        let (org, segregation) = (self.org().to_owned(), self.segregation.clone());
        move |p| {
            if segregation.allows_position(p) {
                Ok(())
            } else {
                Err(Refusal::Forbidden(position_out_of_reach(
                    &org,
                    &p.iupd,
                    &segregation,
                )))
            }
        }
    }

    /// Wraps a change so that it refuses a position the key may not touch, inside the same
    /// transaction as the change.
    fn within_reach(&self, change: Mutation) -> Mutation {
        let reach = self.reach_check();
        Box::new(move |p| {
            reach(p)?;
            change(p)
        })
    }

    /// Applies `change` to the creditor's position `key` if its version is `expected` and the
    /// key reaches it; `missing` is the answer when there is no such position.
    async fn change_within_reach(
        &self,
        key: PositionKey,
        expected: Expected,
        change: Mutation,
        missing: impl FnOnce() -> Problem,
    ) -> Result<DebtPosition, Problem> {
        let organization = self.creditor.fiscal_code.clone();
        let change = self.within_reach(change);
        self.ctx
            .store
            .update_position_if(organization, key, expected, change)
            .await
            .map_err(reply::not_found_as(missing))
    }
}

fn position_out_of_reach(org: &str, iupd: &Iupd, segregation: &SegregationScope) -> String {
    format!(
        "the API key acts for segregation codes {segregation} of organization {org} only; \
         debt position {iupd} has payment options of another"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_values() {
        let ok = |h: Option<&str>| if_match(h).ok().unwrap();
        assert_eq!(ok(None), Expected::Any);
        assert_eq!(ok(Some("*")), Expected::Any);
        assert_eq!(ok(Some("\"3\"")), Expected::OneOf(vec![3]));
        assert_eq!(ok(Some("\"3\", \"5\"")), Expected::OneOf(vec![3, 5]));
        // Weak and foreign tags are well-formed but match nothing.
        assert_eq!(ok(Some("W/\"3\"")), Expected::OneOf(vec![]));
        assert_eq!(ok(Some("\"abc\"")), Expected::OneOf(vec![]));
        for bad in ["3", "\"3", "\"3\"x", ""] {
            let r = if_match(Some(bad)).unwrap_err();
            assert_eq!(r.status, 400, "{bad}");
        }
        assert_eq!(etag(7), "\"7\"");
    }
}
