//! `[creditor.notice]`: what a creditor's payment notices print beyond its positions' data. The
//! logo file is read here, once, at start (a path relative to the working directory, as the
//! TLS files'), and refused unless it is a PNG or a JPEG image; the names are checked against
//! the creditor's own by `creditor.rs`.

use serde::Deserialize;
use serde::de::Deserializer;

use super::value::{FromToml, Refusal, checked, parsed};
use crate::domain::Text;
use crate::domain::notice::settings::{Cbill, NoticeSettings, PosteSettings};
use crate::domain::notice::{Channels, Language, Logo};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotice {
    #[serde(default)]
    logo: Option<String>,
    cbill: String,
    #[serde(default, deserialize_with = "parsed")]
    info: Option<Text<100>>,
    #[serde(default)]
    web_channel: bool,
    #[serde(default)]
    app_channel: bool,
    #[serde(default, deserialize_with = "parsed")]
    physical_channel: Option<Text<50>>,
    #[serde(default)]
    poste: Option<RawPoste>,
    #[serde(default)]
    second_language: Option<String>,
    #[serde(default, deserialize_with = "parsed")]
    name: Option<Text<50>>,
    #[serde(default, deserialize_with = "parsed")]
    office: Option<Text<50>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPoste {
    #[serde(deserialize_with = "parsed")]
    holder: Text<50>,
    #[serde(deserialize_with = "parsed")]
    authorisation: Text<70>,
}

impl FromToml for NoticeSettings {
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked(d, settings)
    }
}

fn settings(raw: RawNotice) -> Result<NoticeSettings, Refusal> {
    let cbill = Cbill::parse(&raw.cbill).map_err(|p| Refusal::at("cbill", p))?;
    let second_language = match raw.second_language.as_deref() {
        None => None,
        Some(code) => match Language::parse(code) {
            Some(Language::It) => {
                return Err(Refusal::at(
                    "second_language",
                    "it is the first language: give de, en, fr or sl",
                ));
            }
            Some(l) => Some(l),
            None => {
                return Err(Refusal::at(
                    "second_language",
                    format!("'{code}' must be one of de, en, fr, sl"),
                ));
            }
        },
    };
    let logo = match raw.logo {
        None => None,
        Some(path) => {
            let bytes =
                std::fs::read(&path).map_err(|e| Refusal::at("logo", format!("{path}: {e}")))?;
            Some(Logo::from_bytes(bytes).map_err(|p| Refusal::at("logo", format!("{path} {p}")))?)
        }
    };
    Ok(NoticeSettings {
        logo,
        cbill,
        info: raw.info,
        channels: Channels {
            web: raw.web_channel,
            app: raw.app_channel,
        },
        physical_channel: raw.physical_channel,
        poste: raw.poste.map(|p| PosteSettings {
            holder: p.holder,
            authorisation: p.authorisation,
        }),
        second_language,
        name: raw.name,
        office: raw.office,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::notice::ImageFormat;

    fn read(text: &str) -> Result<NoticeSettings, String> {
        #[derive(Deserialize)]
        struct Wrap {
            #[serde(deserialize_with = "parsed")]
            notice: NoticeSettings,
        }
        let document = toml::Deserializer::parse(text).map_err(|e| e.to_string())?;
        serde_path_to_error::deserialize::<_, Wrap>(document)
            .map(|w| w.notice)
            .map_err(|e| {
                let (key, problem) = super::super::value::located(e);
                format!("{key}: {problem}")
            })
    }

    #[test]
    fn every_value_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let logo = dir.path().join("logo.png");
        std::fs::write(&logo, crate::domain::notice::settings::tests::png(300, 300)).unwrap();
        let s = read(&format!(
            "[notice]\nlogo = \"{}\"\ncbill = \"A0EDT\"\ninfo = \"Tel. 06 1234 · tributi@comune.it\"\n\
             web_channel = true\nphysical_channel = \"Sportello di via Roma 1\"\n\
             second_language = \"de\"\nname = \"Comune\"\n\
             [notice.poste]\nholder = \"Comune di Esempio\"\nauthorisation = \"DB/SSIC/E 1234 del 01/01/2020\"\n",
            logo.display()
        ))
        .unwrap();
        assert_eq!(s.logo.unwrap().format, ImageFormat::Png);
        assert_eq!(s.cbill.as_str(), "A0EDT");
        assert_eq!(
            s.channels,
            Channels {
                web: true,
                app: false
            }
        );
        assert_eq!(s.second_language, Some(Language::De));
        assert_eq!(s.poste.unwrap().holder.as_str(), "Comune di Esempio");
        assert_eq!(s.name.unwrap().as_str(), "Comune");
        let minimal = read("[notice]\ncbill = \"A0EDT\"\n").unwrap();
        assert!(minimal.logo.is_none() && minimal.poste.is_none());
    }

    #[test]
    fn refusals_name_the_key() {
        let key = |text: &str| {
            let e = read(text).unwrap_err();
            e.split(':').next().unwrap().to_owned()
        };
        assert_eq!(key("[notice]\ncbill = \"a\"\n"), "notice.cbill");
        assert_eq!(
            key("[notice]\ncbill = \"A0EDT\"\nsecond_language = \"es\"\n"),
            "notice.second_language"
        );
        assert_eq!(
            key("[notice]\ncbill = \"A0EDT\"\nsecond_language = \"it\"\n"),
            "notice.second_language"
        );
        assert_eq!(
            key(&format!(
                "[notice]\ncbill = \"A0EDT\"\ninfo = \"{}\"\n",
                "x".repeat(101)
            )),
            "notice.info"
        );
        assert_eq!(
            key("[notice]\ncbill = \"A0EDT\"\n[notice.poste]\nholder = \"x\"\n"),
            "notice.poste"
        );
        let e =
            read("[notice]\ncbill = \"A0EDT\"\nlogo = \"/nonexistent/logo.png\"\n").unwrap_err();
        assert!(e.starts_with("notice.logo: /nonexistent/logo.png: "), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let gif = dir.path().join("logo.gif");
        std::fs::write(&gif, b"GIF89a").unwrap();
        let e = read(&format!(
            "[notice]\ncbill = \"A0EDT\"\nlogo = \"{}\"\n",
            gif.display()
        ))
        .unwrap_err();
        assert!(e.ends_with("is neither a PNG nor a JPEG image"), "{e}");
    }

    #[test]
    fn names_longer_than_printed_need_short_ones() {
        let file = |company: &str, notice: &str| {
            format!(
                "[broker]\nid = \"77777777777\"\nstations = [\"S1\"]\n[[creditor]]\n\
                 fiscal_code = \"77777777777\"\ncompany_name = \"{company}\"\n\
                 office_name = \"Ufficio Tributi\"\nstations = [\"S1\"]\n\
                 segregation_codes = [\"01\"]\n[creditor.notice]\ncbill = \"A0EDT\"\n{notice}"
            )
        };
        let long = "Comune di Esempio con un nome molto lungo, più di cinquanta";
        let e = crate::config::Config::parse(&file(long, ""), "t").unwrap_err();
        assert_eq!(e.key, "creditor[0].notice.name");
        assert!(e.problem.contains("more than a notice prints (50)"), "{e}");
        let c = crate::config::Config::parse(&file(long, "name = \"Comune di Esempio\"\n"), "t")
            .unwrap();
        let settings = c.creditor("77777777777").unwrap().notice.as_ref().unwrap();
        assert_eq!(
            settings.name.as_ref().unwrap().as_str(),
            "Comune di Esempio"
        );
    }
}
