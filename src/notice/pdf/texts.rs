//! The guidelines' fixed texts (Attachment 1, Translations) in Italian, German, English, French
//! and Slovenian, verbatim, and the Poste slip's Italian texts, from `assets/notice/texts.json`.

use std::sync::OnceLock;

use serde_json::Value;

use crate::domain::notice::Language;

fn all() -> &'static Value {
    static TEXTS: OnceLock<Value> = OnceLock::new();
    TEXTS.get_or_init(|| {
        // Compiled in and checked by the tests below: a broken file fails them all.
        serde_json::from_str(include_str!("../../../assets/notice/texts.json"))
            .expect("assets/notice/texts.json is JSON")
    })
}

/// The text at the dotted `key` under `avviso` for `lang`. The German set has no
/// `dovePagare.italia.online` texts: its `dovePagare.gps.online` ones say the same.
pub(super) fn get(lang: Language, key: &str) -> &'static str {
    lookup(lang, key)
        .or_else(|| {
            key.strip_prefix("dovePagare.italia.online.")
                .and_then(|rest| lookup(lang, &format!("dovePagare.gps.online.{rest}")))
        })
        .or_else(|| lookup(Language::It, key))
        .unwrap_or("")
}

fn lookup(lang: Language, key: &str) -> Option<&'static str> {
    let mut v = all().get("guidelines")?.get(lang.code())?.get("avviso")?;
    for part in key.split('.') {
        v = v.get(part)?;
    }
    v.as_str()
}

/// `get` with the guidelines' placeholders filled: the creditor's name (`{{EnteNome}}`, written
/// `[Ente.Nome]` in some English texts) and a number (`{{Numero}}`).
pub(super) fn fill(lang: Language, key: &str, creditor: &str, number: usize) -> String {
    get(lang, key)
        .replace("{{EnteNome}}", creditor)
        .replace("[Ente.Nome]", creditor)
        .replace("{{Numero}}", &number.to_string())
}

/// A text of the Poste slip, which Poste prints in Italian only.
pub(super) fn poste(key: &str) -> &'static str {
    all()
        .get("poste")
        .and_then(|p| p.get(key))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Every key the renderer prints.
#[cfg(test)]
pub(super) const USED: &[&str] = &[
    "intestazione.titolo",
    "infoEnteCreditore.titolo",
    "infoDestinatario.titolo",
    "importoScadenza.titolo",
    "importoScadenza.importo.importo",
    "importoScadenza.scadenza.scadenza",
    "importoScadenza.disclaimer.legal",
    "importoScadenza.disclaimer.rate.rate",
    "importoScadenza.disclaimer.rate.soloRate",
    "importoScadenza.disclaimer.rate.molteRate",
    "dovePagare.titolo",
    "dovePagare.cta",
    "dovePagare.italia.online.titolo",
    "dovePagare.italia.online.descrizione.noEnte",
    "dovePagare.italia.online.descrizione.sitoEnte",
    "dovePagare.italia.territorio.titolo",
    "dovePagare.italia.territorio.descrizione",
    "datiPagamento.titolo",
    "datiPagamento.rataUnica",
    "datiPagamento.numRata",
    "datiPagamento.scadenza",
    "datiPagamento.destinatario",
    "datiPagamento.enteCreditore",
    "datiPagamento.oggettoDelPagamento",
    "datiPagamento.avviso.breve",
    "datiPagamento.cbill.breve",
    "datiPagamento.codiceFiscaleEnte.breve",
    "datiPagamento.istruzioni.qrCode.rataUnica",
    "datiPagamento.istruzioni.qrCode.rate",
];

/// Every Poste text the renderer prints.
#[cfg(test)]
pub(super) const POSTE_USED: &[&str] = &[
    "titolo",
    "banco",
    "conto",
    "intestatario",
    "destinatario",
    "oggetto",
    "avviso",
    "tipo",
    "codiceFiscaleEnte",
    "scadenza",
    "descrizione",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_printed_text_exists_in_every_language() {
        for lang in [
            Language::It,
            Language::De,
            Language::En,
            Language::Fr,
            Language::Sl,
        ] {
            for key in USED {
                let own = lookup(lang, key).or_else(|| {
                    key.strip_prefix("dovePagare.italia.online.")
                        .and_then(|rest| lookup(lang, &format!("dovePagare.gps.online.{rest}")))
                });
                assert!(own.is_some(), "{key} missing in {}", lang.code());
            }
        }
    }

    #[test]
    fn every_poste_text_exists() {
        for key in POSTE_USED {
            assert!(!poste(key).is_empty(), "poste.{key} missing");
        }
    }

    #[test]
    fn placeholders_are_filled() {
        let it = fill(
            Language::It,
            "dovePagare.italia.online.descrizione.sitoEnte",
            "Comune di Prova",
            0,
        );
        assert_eq!(
            it,
            "oppure sul sito di Comune di Prova, dal tuo Home Banking, con la tua app di pagamento o con gli altri canali abilitati."
        );
        let en = fill(
            Language::En,
            "dovePagare.italia.online.descrizione.sitoEnte",
            "Comune di Prova",
            0,
        );
        assert!(en.contains("with Comune di Prova website"), "{en}");
        assert_eq!(
            fill(
                Language::Sl,
                "importoScadenza.disclaimer.rate.soloRate",
                "",
                3
            ),
            "Plačate lahko v 3 obrokih"
        );
    }
}
