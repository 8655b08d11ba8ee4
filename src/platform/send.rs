//! SEND's price API (`api-external-b2b-pa-bundle.yaml`, `retrieveNotificationPriceV23`):
//! `GET /delivery/v2.3/price/{paTaxId}/{noticeCode}` with the creditor's key in `x-api-key`,
//! answering `NotificationPriceResponseV23`, whose `totalPrice` (euro cents, the creditor's fee
//! and VAT included) is the notification fee of the notice.
//!
//! Asked on the Node's paGetPayment(V2), so each lookup is bounded by `[send] timeout_ms`, and
//! a price is used again for `[send] cache_seconds` per (creditor, notice). The cache is this
//! process's memory: several instances each ask SEND on their own.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::header::HeaderName;
use serde::Deserialize;

use super::api::{ApiError, PlatformApi};
use crate::config::SendPrices;
use crate::domain::creditor::Creditor;
use crate::domain::{Cents, FiscalCodePA, NoticeNumber};

/// The header SEND reads the key from (`ApiKeyAuth` in its document).
pub const API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// Past this many prices kept, the stale ones are dropped before another is added.
const CACHE_SWEEP_AT: usize = 10_000;

/// `NotificationPriceResponseV23`, in the document's field names. Only `totalPrice` is used;
/// the rest is read for the record of what SEND answers.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationPriceResponseV23 {
    pub iun: Option<String>,
    pub partial_price: Option<i64>,
    pub total_price: Option<i64>,
    pub vat: Option<i64>,
    pub pa_fee: Option<i64>,
    pub refinement_date: Option<String>,
    pub notification_view_date: Option<String>,
    pub send_fee: Option<i64>,
    pub analog_cost: Option<i64>,
}

impl NotificationPriceResponseV23 {
    /// The notification fee: `totalPrice`, which must be there and not negative.
    pub fn fee(&self) -> Result<Cents, ApiError> {
        let total = self
            .total_price
            .ok_or_else(|| ApiError::Invalid("no totalPrice".into()))?;
        Cents::new(total).map_err(|e| ApiError::Invalid(format!("totalPrice {total}: {e}")))
    }
}

/// Where a price came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Asked of SEND now.
    Asked,
    /// Given by SEND less than `cache_seconds` ago.
    Cached,
}

/// The prices SEND gave, by (creditor, notice), with when.
#[derive(Debug, Default)]
pub struct PriceCache {
    prices: HashMap<(FiscalCodePA, NoticeNumber), (Cents, Instant)>,
}

impl PriceCache {
    /// The price of the notice if it was given less than `keep` before `now`.
    pub fn get(
        &self,
        key: &(FiscalCodePA, NoticeNumber),
        keep: Duration,
        now: Instant,
    ) -> Option<Cents> {
        let (price, at) = self.prices.get(key)?;
        (now.saturating_duration_since(*at) < keep).then_some(*price)
    }

    pub fn put(
        &mut self,
        key: (FiscalCodePA, NoticeNumber),
        price: Cents,
        keep: Duration,
        now: Instant,
    ) {
        if self.prices.len() >= CACHE_SWEEP_AT {
            self.prices
                .retain(|_, (_, at)| now.saturating_duration_since(*at) < keep);
        }
        self.prices.insert(key, (price, now));
    }

    pub fn len(&self) -> usize {
        self.prices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.prices.is_empty()
    }
}

/// The price API of every creditor with `[creditor.send]`, and the prices it gave.
pub struct SendClient {
    clients: HashMap<FiscalCodePA, PlatformApi>,
    cache_for: Duration,
    cache: Mutex<PriceCache>,
}

impl SendClient {
    pub fn new<'a>(
        settings: &SendPrices,
        creditors: impl IntoIterator<Item = &'a Creditor>,
    ) -> SendClient {
        let clients = creditors
            .into_iter()
            .filter_map(|c| {
                let access = c.platform.send.as_ref()?;
                let api = PlatformApi::new(access, API_KEY, settings.timeout);
                Some((c.fiscal_code.clone(), api))
            })
            .collect();
        SendClient {
            clients,
            cache_for: settings.cache_for,
            cache: Mutex::new(PriceCache::default()),
        }
    }

    /// Whether the creditor has SEND's price API configured.
    pub fn serves(&self, creditor: &FiscalCodePA) -> bool {
        self.clients.contains_key(creditor)
    }

    /// The notification fee of the creditor's notice: cached, or asked of SEND within the
    /// bound. None when the creditor has no `[creditor.send]`.
    pub async fn price(
        &self,
        creditor: &FiscalCodePA,
        notice: &NoticeNumber,
    ) -> Option<Result<(Cents, Source), ApiError>> {
        let api = self.clients.get(creditor)?;
        let key = (creditor.clone(), notice.clone());
        if let Some(price) = self.cached(&key) {
            return Some(Ok((price, Source::Cached)));
        }
        let path = [
            "delivery",
            "v2.3",
            "price",
            creditor.as_str(),
            notice.as_str(),
        ];
        let asked = api
            .get::<NotificationPriceResponseV23>(&path, &[])
            .await
            .and_then(|answer| answer.fee());
        Some(asked.map(|price| {
            if !self.cache_for.is_zero() {
                let mut cache = self.cache.lock().expect("price cache");
                cache.put(key, price, self.cache_for, Instant::now());
            }
            (price, Source::Asked)
        }))
    }

    fn cached(&self, key: &(FiscalCodePA, NoticeNumber)) -> Option<Cents> {
        let cache = self.cache.lock().expect("price cache");
        cache.get(key, self.cache_for, Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u64) -> (FiscalCodePA, NoticeNumber) {
        let nav = NoticeNumber::parse(&format!("3010000000000{n:05}")).unwrap();
        (FiscalCodePA::parse("77777777777").unwrap(), nav)
    }

    #[test]
    fn a_price_is_used_again_only_within_its_time() {
        let mut cache = PriceCache::default();
        let (t0, keep) = (Instant::now(), Duration::from_secs(60));
        let price = Cents::new(850).unwrap();
        cache.put(key(1), price, keep, t0);
        assert_eq!(
            cache.get(&key(1), keep, t0 + Duration::from_secs(59)),
            Some(price)
        );
        assert_eq!(cache.get(&key(1), keep, t0 + keep), None);
        assert_eq!(cache.get(&key(2), keep, t0), None, "per notice");
    }

    #[test]
    fn stale_prices_are_dropped_once_many_are_kept() {
        let mut cache = PriceCache::default();
        let (t0, keep) = (Instant::now(), Duration::from_secs(60));
        for n in 0..CACHE_SWEEP_AT as u64 {
            cache.put(key(n), Cents::ZERO, keep, t0);
        }
        let later = t0 + keep;
        cache.put(key(99_999), Cents::ZERO, keep, later);
        assert_eq!(cache.len(), 1, "only the fresh one is left");
    }

    #[test]
    fn the_fee_is_the_total_price() {
        let read = |v: serde_json::Value| {
            serde_json::from_value::<NotificationPriceResponseV23>(v)
                .unwrap()
                .fee()
        };
        let full = serde_json::json!({"iun": "ABCD-EFGH-IJKL-123456-M-1", "partialPrice": 100,
            "totalPrice": 345, "vat": 22, "paFee": 100, "sendFee": 100, "analogCost": 0});
        assert_eq!(read(full), Ok(Cents::new(345).unwrap()));
        assert!(matches!(
            read(serde_json::json!({"partialPrice": 1})),
            Err(ApiError::Invalid(_))
        ));
        assert!(matches!(
            read(serde_json::json!({"totalPrice": -1})),
            Err(ApiError::Invalid(_))
        ));
    }
}
