//! The requests a receipt's deliveries send, each primitive version written once. A receipt's
//! deliveries are created in its store transaction, on the store's one writer; writing the
//! receipt there would make every receipt wait for it. So the versions its stations are
//! expected to speak are written before ([`FormGuess`]), and the writer only puts each
//! station's ids in front; a version nobody expected is written when a station asks for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::domain::FiscalCodePA;
use crate::domain::broadcast::BroadcastStation;
use crate::domain::receipt::{Receipt, ReceiptVersion};
use crate::store::DeliveryTarget;
use crate::xml::broadcast::{ForwardedReceipt, NoV1Form};

/// One receipt's forms, written on demand and kept.
pub struct ReceiptForms {
    receipt: Arc<Receipt>,
    /// By version: V1, V2.
    written: [Option<Result<ForwardedReceipt, NoV1Form>>; 2],
}

impl ReceiptForms {
    pub fn new(receipt: Arc<Receipt>) -> ReceiptForms {
        ReceiptForms {
            receipt,
            written: [None, None],
        }
    }

    pub fn receipt(&self) -> &Arc<Receipt> {
        &self.receipt
    }

    fn form(&mut self, version: ReceiptVersion) -> &Result<ForwardedReceipt, NoV1Form> {
        let ReceiptForms { receipt, written } = self;
        written[slot(version)].get_or_insert_with(|| ForwardedReceipt::write(receipt, version))
    }

    /// The request a delivery to `station` sends, at its first attempt and at every retry:
    /// paSendRT or paSendRTV2 as the station speaks, with the station's ids (Err: that version
    /// cannot carry the receipt).
    pub fn request(&mut self, station: &BroadcastStation) -> Result<Vec<u8>, String> {
        match self.form(station.version) {
            Ok(form) => Ok(form.request(&station.recipient_ids())),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The primitive versions, in the order of the per-version arrays here.
const VERSIONS: [ReceiptVersion; 2] = [ReceiptVersion::V1, ReceiptVersion::V2];

/// Where `version` stands in a per-version array.
fn slot(version: ReceiptVersion) -> usize {
    usize::from(version == ReceiptVersion::V2)
}

/// The most creditors remembered; past it, the guesses start again from nothing.
const MAX_REMEMBERED: usize = 10_000;

/// The versions each creditor's last receipt was delivered in (by [`slot`]), as the guess for
/// its next one. A wrong guess costs one form written for nothing, or written on the writer
/// after all.
#[derive(Clone, Default)]
pub struct FormGuess(Arc<Mutex<HashMap<FiscalCodePA, [bool; 2]>>>);

impl FormGuess {
    /// `receipt`'s forms, with the versions its creditor's stations took last time written.
    pub fn forms(&self, receipt: Arc<Receipt>) -> ReceiptForms {
        let taken = self
            .0
            .lock()
            .expect("form guess")
            .get(&receipt.fiscal_code)
            .copied()
            .unwrap_or_default();
        let mut forms = ReceiptForms::new(receipt);
        for version in VERSIONS.into_iter().filter(|v| taken[slot(*v)]) {
            let _ = forms.form(version);
        }
        forms
    }

    /// Remembers the versions `creditor`'s receipt was just delivered in.
    pub fn remember(&self, creditor: &FiscalCodePA, deliveries: &[DeliveryTarget]) {
        let mut taken = [false; 2];
        for d in deliveries {
            taken[slot(d.station.version)] = true;
        }
        let mut guesses = self.0.lock().expect("form guess");
        if taken == [false; 2] {
            guesses.remove(creditor);
            return;
        }
        if guesses.len() >= MAX_REMEMBERED && !guesses.contains_key(creditor) {
            guesses.clear();
        }
        guesses.insert(creditor.clone(), taken);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::domain::Text;
    use crate::domain::broadcast::StationUrl;
    use crate::domain::receipt::tests::{receipt, transfer};
    use crate::domain::receipt::{ReceiptAccount, ReceiptTransfer};
    use crate::xml::broadcast::send_rt_request;

    fn station(id: &str, version: ReceiptVersion) -> BroadcastStation {
        BroadcastStation {
            organization: FiscalCodePA::parse("77777777777").unwrap(),
            station_id: Text::new(id).unwrap(),
            broker_id: Text::new("77777777777").unwrap(),
            url: StationUrl::parse("http://127.0.0.1:1/rt").unwrap(),
            version,
            timeout: Duration::from_secs(1),
            enabled: true,
        }
    }

    fn target(station: BroadcastStation) -> DeliveryTarget {
        DeliveryTarget {
            id: 1,
            station,
            attempts: 0,
            request: Vec::new(),
            receipt: Default::default(),
        }
    }

    fn iban_receipt() -> Arc<Receipt> {
        Arc::new(receipt(vec![transfer(
            1,
            "77777777777",
            ReceiptAccount::Iban(Text::new("IT60X0542811101000000123456").unwrap()),
        )]))
    }

    fn written(forms: &ReceiptForms) -> [bool; 2] {
        forms.written.each_ref().map(Option::is_some)
    }

    #[test]
    fn each_station_gets_the_request_written_for_it_alone() {
        let receipt = iban_receipt();
        let mut forms = ReceiptForms::new(receipt.clone());
        for (id, version) in [
            ("77777777777_01", ReceiptVersion::V2),
            ("77777777777_02", ReceiptVersion::V2),
            ("77777777777_03", ReceiptVersion::V1),
        ] {
            let s = station(id, version);
            let alone = send_rt_request(&s.recipient_ids(), &receipt, version).unwrap();
            assert_eq!(forms.request(&s).unwrap(), alone);
        }
        assert_eq!(written(&forms), [true, true]);
    }

    #[test]
    fn a_version_that_cannot_carry_the_receipt_is_an_error_for_its_stations_only() {
        let stamp: ReceiptTransfer = transfer(
            1,
            "77777777777",
            ReceiptAccount::MbdAttachment("AA==".into()),
        );
        let mut forms = ReceiptForms::new(Arc::new(receipt(vec![stamp])));
        let v1 = forms.request(&station("77777777777_01", ReceiptVersion::V1));
        assert!(v1.unwrap_err().contains("MBDAttachment"));
        assert!(
            forms
                .request(&station("77777777777_02", ReceiptVersion::V2))
                .is_ok()
        );
    }

    #[test]
    fn the_forms_written_early_are_those_the_creditors_last_receipt_was_delivered_in() {
        let guess = FormGuess::default();
        let creditor = FiscalCodePA::parse("77777777777").unwrap();
        assert_eq!(written(&guess.forms(iban_receipt())), [false, false]);

        guess.remember(
            &creditor,
            &[target(station("77777777777_01", ReceiptVersion::V1))],
        );
        assert_eq!(written(&guess.forms(iban_receipt())), [true, false]);

        // Its stations changed: the next receipt follows.
        guess.remember(
            &creditor,
            &[target(station("77777777777_02", ReceiptVersion::V2))],
        );
        assert_eq!(written(&guess.forms(iban_receipt())), [false, true]);

        // No station any more: nothing written in vain.
        guess.remember(&creditor, &[]);
        assert_eq!(written(&guess.forms(iban_receipt())), [false, false]);
        assert!(guess.0.lock().unwrap().is_empty());
    }

    #[test]
    fn the_guesses_are_bounded() {
        let guess = FormGuess::default();
        let delivered = [target(station("77777777777_01", ReceiptVersion::V2))];
        for n in 0..MAX_REMEMBERED as u64 + 1 {
            let creditor = FiscalCodePA::parse(&format!("{:011}", 10_000_000_000 + n)).unwrap();
            guess.remember(&creditor, &delivered);
        }
        assert_eq!(guess.0.lock().unwrap().len(), 1);
    }
}
