//! Namespace-aware comparison of two XML documents, element by element: names are compared as
//! namespace URI + local name (prefixes do not matter), children in order, text after trimming
//! whitespace. Attributes are not compared (namespace declarations are all a SOAP answer has).

use std::fmt;

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
pub const PAFORNODE_NS: &str = "http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd";

/// One element: its expanded name, its text (all text nodes joined, trimmed) and its children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub ns: Option<String>,
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    fn same_name(&self, other: &Element) -> bool {
        self.ns == other.ns && self.name == other.name
    }

    /// The name for people: a conventional prefix for the SOAP and paForNode namespaces,
    /// `{uri}name` for any other namespace, the bare name for none.
    pub fn display_name(&self) -> String {
        match self.ns.as_deref() {
            None => self.name.clone(),
            Some(SOAP11_NS) => format!("soapenv:{}", self.name),
            Some(SOAP12_NS) => format!("soap12:{}", self.name),
            Some(PAFORNODE_NS) => format!("paf:{}", self.name),
            Some(ns) => format!("{{{ns}}}{}", self.name),
        }
    }
}

/// Parses a whole document into its root element.
pub fn parse(xml: &[u8]) -> Result<Element, String> {
    let text = std::str::from_utf8(xml).map_err(|e| format!("not UTF-8: {e}"))?;
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let position = reader.buffer_position();
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| format!("at byte {position}: {e}"))?;
        let ns = match ns {
            ResolveResult::Bound(ns) if ns.into_inner().is_empty() => None,
            ResolveResult::Bound(ns) => Some(ns.into_inner().to_owned()),
            ResolveResult::Unbound => None,
            ResolveResult::Unknown(prefix) => {
                return Err(format!("at byte {position}: undeclared prefix '{prefix}'"));
            }
        };
        match event {
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(format!(
                    "at byte {position}: content after the root element"
                ));
            }
            Event::Start(start) => stack.push(Element {
                ns,
                name: start.local_name().into_inner().to_owned(),
                text: String::new(),
                children: Vec::new(),
            }),
            Event::Empty(start) => {
                let element = Element {
                    ns,
                    name: start.local_name().into_inner().to_owned(),
                    text: String::new(),
                    children: Vec::new(),
                };
                close(&mut stack, &mut root, element);
            }
            Event::End(_) => {
                let element = stack.pop().ok_or("unbalanced end tag")?;
                close(&mut stack, &mut root, element);
            }
            Event::Text(t) => push_text(&mut stack, &t.xml10_content(), position)?,
            Event::CData(t) => push_text(&mut stack, &t.into_inner(), position)?,
            Event::GeneralRef(r) => {
                let c = match r
                    .resolve_char_ref()
                    .map_err(|e| format!("at byte {position}: {e}"))?
                {
                    Some(c) => c,
                    None => match &*r {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => {
                            return Err(format!("at byte {position}: unknown entity &{other};"));
                        }
                    },
                };
                push_text(&mut stack, c.encode_utf8(&mut [0; 4]), position)?
            }
            Event::DocType(_) => return Err("a DOCTYPE is not accepted".to_owned()),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("the document ends inside <{}>", open.name));
    }
    let mut root = root.ok_or("no root element")?;
    trim_all(&mut root);
    Ok(root)
}

fn close(stack: &mut [Element], root: &mut Option<Element>, element: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

fn push_text(stack: &mut [Element], text: &str, position: u64) -> Result<(), String> {
    match stack.last_mut() {
        Some(e) => e.text.push_str(text),
        None if text.trim().is_empty() => {}
        None => return Err(format!("at byte {position}: text outside the root element")),
    }
    Ok(())
}

fn trim_all(e: &mut Element) {
    let trimmed = e.text.trim();
    if trimmed.len() != e.text.len() {
        e.text = trimmed.to_owned();
    }
    e.children.iter_mut().for_each(trim_all);
}

/// One difference between the expected and the actual document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// The element at `path` has another name.
    Name {
        path: String,
        expected: String,
        actual: String,
    },
    /// The element at `path` has another text.
    Text {
        path: String,
        expected: String,
        actual: String,
    },
    /// The element at `path` has other children (names in order).
    Children {
        path: String,
        expected: Vec<String>,
        actual: Vec<String>,
        missing: Vec<String>,
        unexpected: Vec<String>,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Name {
                path,
                expected,
                actual,
            } => write!(
                f,
                "{path}: element differs\n    expected: {expected}\n    actual:   {actual}"
            ),
            Mismatch::Text {
                path,
                expected,
                actual,
            } => write!(
                f,
                "{path}: text differs\n    expected: {}\n    actual:   {}",
                quote(expected),
                quote(actual)
            ),
            Mismatch::Children {
                path,
                expected,
                actual,
                missing,
                unexpected,
            } => {
                let mut what = Vec::new();
                if !missing.is_empty() {
                    what.push(format!("missing {}", missing.join(", ")));
                }
                if !unexpected.is_empty() {
                    what.push(format!("unexpected {}", unexpected.join(", ")));
                }
                if what.is_empty() {
                    what.push("order differs".to_owned());
                }
                write!(
                    f,
                    "{path}: children differ ({})\n    expected: [{}]\n    actual:   [{}]",
                    what.join("; "),
                    expected.join(", "),
                    actual.join(", ")
                )
            }
        }
    }
}

fn quote(s: &str) -> String {
    const MAX: usize = 200;
    let mut q: String = s.chars().take(MAX).collect();
    if s.chars().count() > MAX {
        q.push('…');
    }
    format!("\"{q}\"")
}

/// Compares `actual` with `expected`. `ignore` holds slash paths of local names below the SOAP
/// Body's payload element (below the root when the document is not a SOAP envelope), e.g.
/// `fault/description`: such an element must be present but its content is not compared.
pub fn compare(expected: &Element, actual: &Element, ignore: &[String]) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let soap = expected.name == "Envelope" && expected.children.iter().any(|c| c.name == "Body");
    let mut walk = Walk {
        ignore,
        soap,
        out: &mut out,
    };
    walk.element(
        expected,
        actual,
        &mut Vec::new(),
        &format!("/{}", expected.name),
    );
    out
}

struct Walk<'a> {
    ignore: &'a [String],
    soap: bool,
    out: &'a mut Vec<Mismatch>,
}

impl Walk<'_> {
    /// `names` are the local names from the root down to (excluding) this element.
    fn element(
        &mut self,
        expected: &Element,
        actual: &Element,
        names: &mut Vec<String>,
        path: &str,
    ) {
        if !expected.same_name(actual) {
            self.out.push(Mismatch::Name {
                path: path.to_owned(),
                expected: expected.display_name(),
                actual: actual.display_name(),
            });
            return;
        }
        names.push(expected.name.clone());
        if !self.ignored(names) {
            if expected.text != actual.text {
                self.out.push(Mismatch::Text {
                    path: path.to_owned(),
                    expected: expected.text.clone(),
                    actual: actual.text.clone(),
                });
            }
            self.children(expected, actual, names, path);
        }
        names.pop();
    }

    fn ignored(&self, names: &[String]) -> bool {
        let below = if self.soap {
            // Envelope / Body / payload / …
            if names.len() < 4 || names[1] != "Body" {
                return false;
            }
            &names[3..]
        } else {
            if names.len() < 2 {
                return false;
            }
            &names[1..]
        };
        let relative = below.join("/");
        self.ignore.iter().any(|p| p.trim_matches('/') == relative)
    }

    fn children(
        &mut self,
        expected: &Element,
        actual: &Element,
        names: &mut Vec<String>,
        path: &str,
    ) {
        let e = &expected.children;
        let a = &actual.children;
        let pairs = align(e, a);
        let same = pairs.len() == e.len() && pairs.len() == a.len();
        if !same {
            let matched_e: Vec<usize> = pairs.iter().map(|p| p.0).collect();
            let matched_a: Vec<usize> = pairs.iter().map(|p| p.1).collect();
            let missing = (0..e.len())
                .filter(|i| !matched_e.contains(i))
                .map(|i| e[i].display_name())
                .collect();
            let unexpected = (0..a.len())
                .filter(|i| !matched_a.contains(i))
                .map(|i| a[i].display_name())
                .collect();
            self.out.push(Mismatch::Children {
                path: path.to_owned(),
                expected: e.iter().map(Element::display_name).collect(),
                actual: a.iter().map(Element::display_name).collect(),
                missing,
                unexpected,
            });
        }
        for (i, j) in pairs {
            let child_path = format!("{path}/{}", step(e, i));
            self.element(&e[i], &a[j], names, &child_path);
        }
    }
}

/// A path step: the local name, with a 1-based index when siblings share the name.
fn step(siblings: &[Element], i: usize) -> String {
    let e = &siblings[i];
    let same: Vec<usize> = (0..siblings.len())
        .filter(|&k| siblings[k].same_name(e))
        .collect();
    if same.len() > 1 {
        let n = same.iter().position(|&k| k == i).expect("present") + 1;
        format!("{}[{n}]", e.name)
    } else {
        e.name.clone()
    }
}

/// The longest common subsequence of the two child lists by name, as index pairs.
fn align(e: &[Element], a: &[Element]) -> Vec<(usize, usize)> {
    let (n, m) = (e.len(), a.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if e[i].same_name(&a[j]) {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut pairs) = (0, 0, Vec::new());
    while i < n && j < m {
        if e[i].same_name(&a[j]) {
            pairs.push((i, j));
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(expected: &str, actual: &str, ignore: &[&str]) -> Vec<Mismatch> {
        let ignore: Vec<String> = ignore.iter().map(|s| s.to_string()).collect();
        compare(
            &parse(expected.as_bytes()).unwrap(),
            &parse(actual.as_bytes()).unwrap(),
            &ignore,
        )
    }

    const EXPECTED: &str = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:paf="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd">
  <soapenv:Header/>
  <soapenv:Body>
    <paf:paVerifyPaymentNoticeRes>
      <outcome>KO</outcome>
      <fault>
        <faultCode>PAA_PAGAMENTO_SCONOSCIUTO</faultCode>
        <faultString>Pagamento sconosciuto</faultString>
        <id>77777777777</id>
        <description>notice 301 is unknown</description>
      </fault>
    </paf:paVerifyPaymentNoticeRes>
  </soapenv:Body>
</soapenv:Envelope>"#;

    #[test]
    fn prefixes_do_not_matter() {
        let actual = r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Header/><S:Body><ns2:paVerifyPaymentNoticeRes xmlns:ns2="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"><outcome>KO</outcome><fault><faultCode>PAA_PAGAMENTO_SCONOSCIUTO</faultCode><faultString>Pagamento sconosciuto</faultString><id>77777777777</id><description>notice 301 is unknown</description></fault></ns2:paVerifyPaymentNoticeRes></S:Body></S:Envelope>"#;
        assert_eq!(diff(EXPECTED, actual, &[]), vec![]);
        // A default namespace with xmlns="" children is the same document too.
        let default_ns = r#"<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Header/><Body>
<paVerifyPaymentNoticeRes xmlns="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"><outcome xmlns="">KO</outcome>
<fault xmlns=""><faultCode>PAA_PAGAMENTO_SCONOSCIUTO</faultCode><faultString>Pagamento sconosciuto</faultString>
<id>77777777777</id><!-- who --><description><![CDATA[notice 301 is unknown]]></description></fault>
</paVerifyPaymentNoticeRes></Body></Envelope>"#;
        assert_eq!(diff(EXPECTED, default_ns, &[]), vec![]);
    }

    #[test]
    fn whitespace_around_text_does_not_matter() {
        let a = EXPECTED.replace("<outcome>KO</outcome>", "<outcome>\n   KO  \n</outcome>");
        assert_eq!(diff(EXPECTED, &a, &[]), vec![]);
        let a = EXPECTED.replace(">\n", ">");
        assert_eq!(diff(EXPECTED, &a, &[]), vec![]);
    }

    #[test]
    fn text_difference_is_reported_with_its_path() {
        let a = EXPECTED.replace("<id>77777777777</id>", "<id>88888888888</id>");
        let d = diff(EXPECTED, &a, &[]);
        assert_eq!(
            d,
            vec![Mismatch::Text {
                path: "/Envelope/Body/paVerifyPaymentNoticeRes/fault/id".to_owned(),
                expected: "77777777777".to_owned(),
                actual: "88888888888".to_owned(),
            }]
        );
        let shown = d[0].to_string();
        assert!(shown.contains("fault/id: text differs"), "{shown}");
        assert!(
            shown.contains("\"77777777777\"") && shown.contains("\"88888888888\""),
            "{shown}"
        );
    }

    #[test]
    fn entities_are_resolved() {
        let e = "<a>x &amp; y &#65;</a>";
        assert_eq!(parse(e.as_bytes()).unwrap().text, "x & y A");
        assert_eq!(diff(e, "<a>x &#38; y A</a>", &[]), vec![]);
    }

    #[test]
    fn namespace_difference_is_reported() {
        let a = EXPECTED.replace("<outcome>KO</outcome>", "<paf:outcome>KO</paf:outcome>");
        let d = diff(EXPECTED, &a, &[]);
        assert_eq!(d.len(), 1, "{d:?}");
        match &d[0] {
            Mismatch::Children {
                missing,
                unexpected,
                ..
            } => {
                assert_eq!(missing, &vec!["outcome".to_owned()]);
                assert_eq!(unexpected, &vec!["paf:outcome".to_owned()]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_and_extra_elements_are_reported() {
        let a = EXPECTED.replace("<description>notice 301 is unknown</description>", "");
        let d = diff(EXPECTED, &a, &[]);
        assert_eq!(d.len(), 1, "{d:?}");
        let shown = d[0].to_string();
        assert!(shown.starts_with("/Envelope/Body/paVerifyPaymentNoticeRes/fault: children differ (missing description)"), "{shown}");
        assert!(
            shown.contains("expected: [faultCode, faultString, id, description]"),
            "{shown}"
        );
        assert!(
            shown.contains("actual:   [faultCode, faultString, id]"),
            "{shown}"
        );

        let a = EXPECTED.replace(
            "<id>77777777777</id>",
            "<id>77777777777</id><serial>1</serial>",
        );
        let d = diff(EXPECTED, &a, &[]);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].to_string().contains("(unexpected serial)"), "{}", d[0]);

        // The matching children are still compared.
        let a = EXPECTED
            .replace("<soapenv:Header/>", "")
            .replace("<outcome>KO</outcome>", "<outcome>OK</outcome>");
        let d = diff(EXPECTED, &a, &[]);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(
            matches!(&d[0], Mismatch::Children { path, missing, .. } if path == "/Envelope" && missing == &vec!["soapenv:Header".to_owned()])
        );
        assert!(matches!(&d[1], Mismatch::Text { path, .. } if path.ends_with("/outcome")));
    }

    #[test]
    fn other_root_is_a_name_mismatch() {
        let d = diff(EXPECTED, "<Envelope><Body/></Envelope>", &[]);
        assert!(
            matches!(&d[0], Mismatch::Name { expected, actual, .. } if expected == "soapenv:Envelope" && actual == "Envelope"),
            "{d:?}"
        );
    }

    #[test]
    fn ignore_paths_are_honoured() {
        let a = EXPECTED
            .replace("Pagamento sconosciuto", "Unknown payment")
            .replace("notice 301 is unknown", "no such notice");
        assert_eq!(diff(EXPECTED, &a, &["fault/description"]).len(), 1);
        assert_eq!(
            diff(EXPECTED, &a, &["fault/faultString", "fault/description"]),
            vec![]
        );
        assert_eq!(
            diff(EXPECTED, &a, &["/fault/faultString/", "fault/description"]),
            vec![]
        );
        // An ignored element must still be there.
        let a = EXPECTED.replace("<description>notice 301 is unknown</description>", "");
        assert_eq!(diff(EXPECTED, &a, &["fault/description"]).len(), 1);
        // Only the exact path is ignored.
        let a = EXPECTED.replace("<id>77777777777</id>", "<id>1</id>");
        assert_eq!(
            diff(EXPECTED, &a, &["id", "fault"]).len(),
            0,
            "a whole subtree"
        );
        assert_eq!(diff(EXPECTED, &a, &["id"]).len(), 1);
    }

    #[test]
    fn ignore_paths_below_the_root_of_a_plain_document() {
        let e = "<r><a>1</a><b><c>2</c></b></r>";
        let a = "<r><a>1</a><b><c>3</c></b></r>";
        assert_eq!(diff(e, a, &["b/c"]), vec![]);
        assert_eq!(diff(e, a, &["c"]).len(), 1);
    }

    #[test]
    fn repeated_siblings_get_an_index() {
        let e = "<r><t><a>1</a></t><t><a>2</a></t></r>";
        let a = "<r><t><a>1</a></t><t><a>3</a></t></r>";
        let d = diff(e, a, &[]);
        assert!(
            matches!(&d[0], Mismatch::Text { path, .. } if path == "/r/t[2]/a"),
            "{d:?}"
        );
    }

    #[test]
    fn bad_documents_are_refused() {
        for bad in [
            "",
            "not xml",
            "<a>",
            "<a></b>",
            "<a/><b/>",
            "<p:a/>",
            "<a>&nbsp;</a>",
            "<!DOCTYPE a [<!ENTITY x 'y'>]><a/>",
            "text<a/>",
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad}");
        }
        assert!(parse(&[0xff, 0xfe]).is_err());
    }
}
