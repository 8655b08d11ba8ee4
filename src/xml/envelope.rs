//! Reads a request body as a SOAP 1.1 envelope and returns the single element inside `Body`
//! as a small tree. This is the only place that parses untrusted bytes: it rejects DTDs,
//! undeclared entities, unbound prefixes, invalid UTF-8 and oversized trees, never panics,
//! and runs in time linear in the input. What the payload means is `requests`' business.

use std::fmt;

use quick_xml::escape::{resolve_xml_entity, unescape_with};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::reader::NsReader;

use super::{PAFORNODE_NS, SOAP_ENV_NS, is_blank, resolved_reference, strict_reader};
use crate::domain::messages::Operation;

/// Deepest element nesting accepted, the Envelope counting as 1.
const MAX_DEPTH: usize = 64;
/// Most elements accepted in one document, Header content included.
const MAX_ELEMENTS: usize = 10_000;
const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// An element of the payload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// The local name, without prefix.
    pub name: String,
    /// Whether the element is in a namespace (paForNode children must not be).
    pub qualified: bool,
    /// Whether it carries attributes other than namespace declarations and `xsi:*`.
    pub foreign_attributes: bool,
    /// Its character data (text and CDATA, references resolved), whitespace included; in an
    /// element with children, blank runs after the first child are not kept.
    pub text: String,
    pub children: Vec<Element>,
}

/// The element inside `Body`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// The payload element's namespace URI, `None` when unqualified.
    pub namespace: Option<String>,
    /// Its local name.
    pub name: String,
    pub root: Element,
}

impl Payload {
    /// The operation whose request this payload is, if it is a paForNode request wrapper.
    pub fn operation(&self) -> Option<Operation> {
        match self.namespace.as_deref() {
            Some(PAFORNODE_NS) => Operation::from_request_element(&self.name),
            _ => None,
        }
    }
}

/// Why a body is not a SOAP request. Both kinds are answered with HTTP 400 and a SOAP Fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvelopeError {
    /// Not well-formed (or not namespace-well-formed) XML, or XML we refuse to read.
    Malformed(String),
    /// Well-formed XML, but not a SOAP 1.1 envelope with exactly one element in its Body.
    NotSoap(String),
}

impl fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvelopeError::Malformed(why) => write!(f, "malformed XML: {why}"),
            EnvelopeError::NotSoap(why) => write!(f, "not a SOAP 1.1 envelope: {why}"),
        }
    }
}

impl std::error::Error for EnvelopeError {}

fn malformed(why: impl Into<String>) -> EnvelopeError {
    EnvelopeError::Malformed(why.into())
}

fn not_soap(why: impl Into<String>) -> EnvelopeError {
    EnvelopeError::NotSoap(why.into())
}

/// Reads `body` as a SOAP 1.1 envelope and returns the element inside its Body.
pub fn read_envelope(body: &[u8]) -> Result<Payload, EnvelopeError> {
    let mut reader = strict_reader(body)
        .map_err(|offset| malformed(format!("not UTF-8 (invalid byte at offset {offset})")))?;
    let mut parser = Parser {
        frames: Vec::with_capacity(16),
        open: Vec::with_capacity(8),
        ..Parser::default()
    };
    let mut first = true;
    loop {
        let event = reader.read_event().map_err(|e| {
            // Namespace errors leave error_position at 0.
            let at = match reader.error_position() {
                0 => reader.buffer_position(),
                at => at,
            };
            malformed(format!("{e} (near byte {at})"))
        })?;
        match event {
            Event::Start(start) => parser.start(resolve_tag(&reader, &start)?)?,
            Event::Empty(start) => {
                parser.start(resolve_tag(&reader, &start)?)?;
                parser.end()?;
            }
            Event::End(_) => parser.end()?,
            // The '>' test first: substring search is slow to set up for every text.
            Event::Text(t) if t.contains('>') && t.contains("]]>") => {
                return Err(malformed("']]>' in text"));
            }
            Event::Text(t) => parser.text(&t.xml10_content())?,
            Event::CData(t) => parser.text(&t.xml10_content())?,
            Event::GeneralRef(r) => {
                let mut utf8 = [0; 4];
                parser.text(resolved_reference(&r, &mut utf8).map_err(malformed)?)?;
            }
            Event::Decl(decl) if first => match decl.encoding() {
                None => {}
                Some(Ok(enc)) if enc.eq_ignore_ascii_case("UTF-8") => {}
                Some(Ok(enc)) => {
                    return Err(malformed(format!(
                        "encoding '{enc}' is not supported: only UTF-8"
                    )));
                }
                Some(Err(e)) => return Err(malformed(format!("XML declaration: {e}"))),
            },
            Event::Decl(_) => {
                return Err(malformed(
                    "XML declaration allowed only at the start of the document",
                ));
            }
            Event::DocType(_) => return Err(malformed("DTDs are not allowed")),
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => return parser.finish(),
        }
        first = false;
    }
}

/// What a start tag says once its prefixes are resolved.
struct StartTag<'a> {
    namespace: Option<&'a str>,
    local: &'a str,
    foreign_attributes: bool,
}

impl StartTag<'_> {
    fn is(&self, namespace: &str, local: &str) -> bool {
        self.namespace == Some(namespace) && self.local == local
    }
}

/// `{namespace}local`, the way XML tools name an expanded name.
impl fmt::Display for StartTag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.namespace {
            Some(ns) => write!(f, "{{{ns}}}{}", self.local),
            None => f.write_str(self.local),
        }
    }
}

/// Resolves the element's and its attributes' prefixes, and checks the well-formedness
/// quick-xml leaves to us: names, attribute values, duplicate attributes.
fn resolve_tag<'a>(
    reader: &'a NsReader<&[u8]>,
    start: &'a BytesStart,
) -> Result<StartTag<'a>, EnvelopeError> {
    let resolver = reader.resolver();
    check_name(start.name().into_inner())?;
    let (resolved, local) = resolver.resolve_element(start.name());
    let namespace = bound(resolved)?.map(|Namespace(ns)| ns);
    let mut foreign_attributes = false;
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| malformed(format!("attribute: {e}")))?;
        check_name(attribute.key.into_inner())?;
        if attribute.value.contains('<')
            || unescape_with(&attribute.value, resolve_xml_entity).is_err()
        {
            return Err(malformed(format!(
                "attribute {}: '<' or an undeclared reference in its value",
                attribute.key.into_inner()
            )));
        }
        if attribute.key.as_namespace_binding().is_some() {
            continue;
        }
        let (resolved, _) = resolver.resolve_attribute(attribute.key);
        if bound(resolved)? != Some(Namespace(XSI_NS)) {
            foreign_attributes = true;
        }
    }
    Ok(StartTag {
        namespace,
        local: local.into_inner(),
        foreign_attributes,
    })
}

fn bound(resolved: ResolveResult<'_>) -> Result<Option<Namespace<'_>>, EnvelopeError> {
    match resolved {
        ResolveResult::Bound(ns) => Ok(Some(ns)),
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(prefix) => {
            Err(malformed(format!("unbound namespace prefix '{prefix}'")))
        }
    }
}

/// Where an open element sits in the envelope.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Frame {
    Envelope,
    /// The Header or anything inside it: skipped.
    Header,
    Body,
    /// The payload or one of its descendants: kept.
    Payload,
}

#[derive(Default)]
struct Parser {
    /// The open elements, outermost first.
    frames: Vec<Frame>,
    /// The open payload elements, outermost first.
    open: Vec<Element>,
    /// The payload's namespace, known from its start tag.
    namespace: Option<String>,
    /// The payload, once closed.
    payload: Option<Element>,
    elements: usize,
    seen_header: bool,
    seen_body: bool,
    /// The Envelope has been closed: only comments and whitespace may follow.
    done: bool,
}

impl Parser {
    fn start(&mut self, tag: StartTag) -> Result<(), EnvelopeError> {
        self.elements += 1;
        if self.elements > MAX_ELEMENTS {
            return Err(malformed(format!("more than {MAX_ELEMENTS} elements")));
        }
        if self.frames.len() >= MAX_DEPTH {
            return Err(malformed(format!(
                "elements nested deeper than {MAX_DEPTH}"
            )));
        }
        let frame = match self.frames.last() {
            None if self.done => {
                return Err(malformed("content after the root element"));
            }
            None if tag.is(SOAP_ENV_NS, "Envelope") => Frame::Envelope,
            None => {
                return Err(not_soap(format!(
                    "the root element is {tag}, not {{{SOAP_ENV_NS}}}Envelope"
                )));
            }
            Some(Frame::Envelope) => self.envelope_child(&tag)?,
            Some(Frame::Header) => Frame::Header,
            Some(Frame::Body) if self.payload.is_some() => {
                return Err(not_soap(
                    "Body must contain exactly one element, found a second one",
                ));
            }
            Some(Frame::Body | Frame::Payload) => {
                if self.open.is_empty() {
                    self.namespace = tag.namespace.map(str::to_owned);
                }
                self.open.push(Element {
                    qualified: tag.namespace.is_some(),
                    name: tag.local.to_owned(),
                    foreign_attributes: tag.foreign_attributes,
                    ..Element::default()
                });
                Frame::Payload
            }
        };
        self.frames.push(frame);
        Ok(())
    }

    /// Envelope = Header? Body.
    fn envelope_child(&mut self, tag: &StartTag) -> Result<Frame, EnvelopeError> {
        if self.seen_body {
            return Err(not_soap(format!("element {tag} after Body")));
        }
        if tag.is(SOAP_ENV_NS, "Header") && !self.seen_header {
            self.seen_header = true;
            Ok(Frame::Header)
        } else if tag.is(SOAP_ENV_NS, "Body") {
            self.seen_body = true;
            Ok(Frame::Body)
        } else {
            Err(not_soap(format!(
                "unexpected element {tag} in Envelope (expected Header or Body)"
            )))
        }
    }

    fn end(&mut self) -> Result<(), EnvelopeError> {
        match self.frames.pop() {
            Some(Frame::Payload) => {
                let element = self
                    .open
                    .pop()
                    .ok_or_else(|| malformed("unbalanced tags"))?;
                match self.open.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => self.payload = Some(element),
                }
            }
            Some(Frame::Body) if self.payload.is_none() => {
                return Err(not_soap("Body is empty"));
            }
            Some(Frame::Envelope) => {
                if !self.seen_body {
                    return Err(not_soap("Envelope has no Body"));
                }
                self.done = true;
            }
            Some(_) => {}
            None => return Err(malformed("end tag without a start tag")),
        }
        Ok(())
    }

    fn text(&mut self, text: &str) -> Result<(), EnvelopeError> {
        // Most text is ASCII without controls: skip the per-character check for it.
        let plain = |b: u8| (0x20..0x80).contains(&b) || matches!(b, b'\t' | b'\n' | b'\r');
        if !text.bytes().all(plain)
            && let Some(c) = text.chars().find(|&c| !is_xml_char(c))
        {
            return Err(malformed(format!(
                "character U+{:04X} is not allowed in XML",
                u32::from(c)
            )));
        }
        match self.frames.last() {
            Some(Frame::Payload) => {
                if let Some(element) = self.open.last_mut() {
                    // Blank text after a child is only indentation: no need to keep it.
                    if element.children.is_empty() || !is_blank(text) {
                        element.text.push_str(text);
                    }
                }
            }
            Some(Frame::Header) => {}
            Some(Frame::Envelope | Frame::Body) if !is_blank(text) => {
                return Err(not_soap("text between the envelope's elements"));
            }
            None if !is_blank(text) => return Err(malformed("text outside the root element")),
            _ => {}
        }
        Ok(())
    }

    fn finish(self) -> Result<Payload, EnvelopeError> {
        if !self.frames.is_empty() {
            return Err(malformed("the document ends inside an element"));
        }
        if !self.done {
            return Err(malformed("no root element"));
        }
        let root = self.payload.ok_or_else(|| not_soap("Body is empty"))?;
        Ok(Payload {
            namespace: self.namespace,
            name: root.name.clone(),
            root,
        })
    }
}

/// `prefix:local` or `local`, each an NCName. ASCII characters are checked exactly, others
/// accepted: enough to refuse what quick-xml lets through (`<1a>`, `<a:b:c>`).
fn check_name(name: &str) -> Result<(), EnvelopeError> {
    fn ncname(part: &str) -> bool {
        // Bytes >= 0x80 are parts of non-ASCII characters.
        let Some((first, rest)) = part.as_bytes().split_first() else {
            return false;
        };
        (first.is_ascii_alphabetic() || *first == b'_' || *first >= 0x80)
            && rest
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.') || b >= 0x80)
    }
    let valid = match name.split_once(':') {
        Some((prefix, local)) => ncname(prefix) && ncname(local),
        None => ncname(name),
    };
    if valid {
        Ok(())
    } else {
        Err(malformed(format!("invalid name '{name}'")))
    }
}

/// The XML 1.0 `Char` production.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::samples;
    use proptest::prelude::*;

    /// A document with `payload` as the Body's content.
    fn soap(payload: &str) -> String {
        format!(
            r#"<s:Envelope xmlns:s="{SOAP_ENV_NS}" xmlns:p="{PAFORNODE_NS}"><s:Body>{payload}</s:Body></s:Envelope>"#
        )
    }

    fn read(doc: &str) -> Result<Payload, EnvelopeError> {
        read_envelope(doc.as_bytes())
    }

    fn is_malformed(doc: &[u8]) -> bool {
        matches!(read_envelope(doc), Err(EnvelopeError::Malformed(_)))
    }

    fn is_not_soap(doc: &str) -> bool {
        matches!(read(doc), Err(EnvelopeError::NotSoap(_)))
    }

    /// name=text pairs of the leaves, depth first.
    fn leaves(element: &Element) -> Vec<String> {
        if element.children.is_empty() {
            return vec![format!("{}={}", element.name, element.text)];
        }
        element.children.iter().flat_map(leaves).collect()
    }

    #[test]
    fn reads_every_prefix_style() {
        for doc in [
            samples::VERIFY_SOAPENV_PAFN,
            samples::VERIFY_JAXWS,
            samples::VERIFY_DEFAULT_NS,
        ] {
            let payload = read(doc).unwrap();
            assert_eq!(payload.namespace.as_deref(), Some(PAFORNODE_NS));
            assert_eq!(payload.name, "paVerifyPaymentNoticeReq");
            assert_eq!(payload.operation(), Some(Operation::VerifyPaymentNotice));
            assert!(payload.root.qualified && !payload.root.foreign_attributes);
            assert_eq!(
                leaves(&payload.root),
                [
                    "idPA=77777777777",
                    "idBrokerPA=77777777777",
                    "idStation=77777777777_01",
                    "fiscalCode=77777777777",
                    "noticeNumber=311111111112222222"
                ]
            );
            let qr_code = &payload.root.children[3];
            assert!(!qr_code.qualified && qr_code.children.iter().all(|c| !c.qualified));
        }
    }

    #[test]
    fn skips_header_content_at_any_depth() {
        let doc = format!(
            r#"<soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}"><soapenv:Header a="1">
            <wsse:Security xmlns:wsse="urn:x" soapenv:mustUnderstand="1"><a><b><c>text</c></b></a></wsse:Security>
            <soapenv:Body>not the body</soapenv:Body></soapenv:Header>
            <soapenv:Body><p:paGetPaymentReq xmlns:p="{PAFORNODE_NS}"/></soapenv:Body></soapenv:Envelope>"#
        );
        let payload = read(&doc).unwrap();
        assert_eq!(payload.operation(), Some(Operation::GetPayment));
        assert!(payload.root.children.is_empty());
    }

    #[test]
    fn resolves_cdata_references_and_ignores_comments() {
        let doc = format!(
            "\u{FEFF}<?xml version='1.0' encoding='utf-8'?><!-- before -->{}<?pi after?><!-- after -->\n",
            soap(
                "<p:x><a><![CDATA[<raw> &amp;]]>&#55;&#x41;&amp;&lt;&gt;&quot;&apos;<!-- c --><?pi x?>\r\nend</a></p:x>"
            )
        );
        let payload = read(&doc).unwrap();
        assert_eq!(payload.root.children[0].text, "<raw> &amp;7A&<>\"'\nend");
    }

    #[test]
    fn flags_qualified_children_and_foreign_attributes() {
        let xsi = "http://www.w3.org/2001/XMLSchema-instance";
        let doc = soap(&format!(
            r#"<p:x xmlns:xsi="{xsi}" xsi:type="p:x"><p:idPA/><a xmlns="urn:other"/><b xmlns:q="urn:q" q:at="1"/><c id="1"/><d xmlns=""/></p:x>"#
        ));
        let root = read(&doc).unwrap().root;
        assert!(!root.foreign_attributes, "xmlns and xsi:* are not foreign");
        let flags: Vec<_> = root
            .children
            .iter()
            .map(|c| (c.name.as_str(), c.qualified, c.foreign_attributes))
            .collect();
        assert_eq!(
            flags,
            [
                ("idPA", true, false),
                ("a", true, false),
                ("b", false, true),
                ("c", false, true),
                ("d", false, false)
            ]
        );
    }

    #[test]
    fn operation_needs_the_namespace_and_a_request_wrapper() {
        let op = |payload: &str| read(&soap(payload)).unwrap().operation();
        assert_eq!(op("<p:paSendRTV2Request/>"), Some(Operation::SendRtV2));
        assert_eq!(op("<p:paSendRTV2Response/>"), None);
        assert_eq!(op("<paSendRTReq/>"), None);
        assert_eq!(op(r#"<paSendRTReq xmlns="urn:wrong"/>"#), None);
    }

    #[test]
    fn refuses_malformed_xml() {
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", b"".to_vec()),
            ("unclosed", soap("<p:x><a></p:x>").into_bytes()),
            ("truncated", soap("<p:x/>").as_bytes()[..60].to_vec()),
            ("mismatched end", soap("<p:x><a></b></p:x>").into_bytes()),
            ("unbound element prefix", soap("<q:x/>").into_bytes()),
            (
                "unbound attribute prefix",
                soap(r#"<p:x q:a="1"/>"#).into_bytes(),
            ),
            (
                "duplicate attribute",
                soap(r#"<p:x a="1" a="2"/>"#).into_bytes(),
            ),
            ("attribute without value", soap("<p:x a/>").into_bytes()),
            (
                "doctype",
                format!("<!DOCTYPE e>{}", soap("<p:x/>")).into_bytes(),
            ),
            (
                "entity declaration",
                format!("<!DOCTYPE e [<!ENTITY a 'b'>]>{}", soap("<p:x>&a;</p:x>")).into_bytes(),
            ),
            ("undeclared entity", soap("<p:x>&nbsp;</p:x>").into_bytes()),
            (
                "bad character reference",
                soap("<p:x>&#xZZ;</p:x>").into_bytes(),
            ),
            (
                "forbidden character reference",
                soap("<p:x>&#1;</p:x>").into_bytes(),
            ),
            ("forbidden character", soap("<p:x>\u{1}</p:x>").into_bytes()),
            (
                "invalid UTF-8",
                [soap("<p:x>").as_bytes(), b"\xff"].concat(),
            ),
            (
                "late declaration",
                format!(" <?xml version='1.0'?>{}", soap("<p:x/>")).into_bytes(),
            ),
            (
                "latin-1",
                format!(
                    "<?xml version='1.0' encoding='ISO-8859-1'?>{}",
                    soap("<p:x/>")
                )
                .into_bytes(),
            ),
            (
                "text before root",
                format!("x{}", soap("<p:x/>")).into_bytes(),
            ),
            (
                "text after root",
                format!("{}x", soap("<p:x/>")).into_bytes(),
            ),
            (
                "second root",
                format!("{}<a/>", soap("<p:x/>")).into_bytes(),
            ),
            (
                "double hyphen comment",
                soap("<p:x><!-- a -- b --></p:x>").into_bytes(),
            ),
            (
                "name starting with a digit",
                soap("<p:x><1a/></p:x>").into_bytes(),
            ),
            ("two colons", soap(r#"<p:x><p:q:a/></p:x>"#).into_bytes()),
            ("'<' in attribute", soap(r#"<p:x a="<"/>"#).into_bytes()),
            (
                "lone '&' in attribute",
                soap(r#"<p:x a="&"/>"#).into_bytes(),
            ),
            (
                "entity in attribute",
                soap(r#"<p:x a="&foo;"/>"#).into_bytes(),
            ),
            ("']]>' in text", soap("<p:x>]]></p:x>").into_bytes()),
        ];
        for (case, doc) in cases {
            assert!(is_malformed(&doc), "{case}: {:?}", read_envelope(&doc));
        }
    }

    #[test]
    fn limits_depth_and_size() {
        let nested = |levels: usize| {
            soap(&format!(
                "{}{}",
                "<a>".repeat(levels),
                "</a>".repeat(levels)
            ))
        };
        // Envelope and Body take two levels.
        assert!(read(&nested(62)).is_ok());
        assert!(is_malformed(nested(63).as_bytes()));
        let wide = |count: usize| soap(&format!("<p:x>{}</p:x>", "<a/>".repeat(count)));
        // Envelope, Body and the payload are three elements.
        assert!(read(&wide(9_997)).is_ok());
        assert!(is_malformed(wide(9_998).as_bytes()));
        let in_header = format!(
            r#"<s:Envelope xmlns:s="{SOAP_ENV_NS}"><s:Header>{}</s:Header><s:Body><x/></s:Body></s:Envelope>"#,
            "<a/>".repeat(10_000)
        );
        assert!(is_malformed(in_header.as_bytes()));
    }

    #[test]
    fn refuses_what_is_not_a_soap_11_envelope() {
        let env =
            |inner: &str| format!(r#"<s:Envelope xmlns:s="{SOAP_ENV_NS}">{inner}</s:Envelope>"#);
        let cases = [
            (
                "SOAP 1.2",
                r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><x/></s:Body></s:Envelope>"#
                    .to_owned(),
            ),
            ("root not Envelope", format!(r#"<s:Body xmlns:s="{SOAP_ENV_NS}"><x/></s:Body>"#)),
            ("unqualified Envelope", "<Envelope><Body><x/></Body></Envelope>".to_owned()),
            ("no Body", env("<s:Header/>")),
            ("nothing inside", env("")),
            ("empty Body", env("<s:Body> </s:Body>")),
            ("two Body children", env("<s:Body><x/><y/></s:Body>")),
            ("element after Body", env("<s:Body><x/></s:Body><s:Header/>")),
            ("second Body", env("<s:Body><x/></s:Body><s:Body><x/></s:Body>")),
            ("second Header", env("<s:Header/><s:Header/><s:Body><x/></s:Body>")),
            ("foreign element", env("<s:Foo/><s:Body><x/></s:Body>")),
            ("text in Envelope", env("text<s:Body><x/></s:Body>")),
            ("text in Body", env("<s:Body>text<x/></s:Body>")),
            ("CDATA in Body", env("<s:Body><x/><![CDATA[t]]></s:Body>")),
        ];
        for (case, doc) in cases {
            assert!(is_not_soap(&doc), "{case}: {:?}", read(&doc));
        }
    }

    #[test]
    fn errors_say_which_kind() {
        assert_eq!(
            read("<a/>").unwrap_err().to_string(),
            format!(
                "not a SOAP 1.1 envelope: the root element is a, not {{{SOAP_ENV_NS}}}Envelope"
            )
        );
        assert_eq!(
            read(&soap("<p:x>&bad;</p:x>")).unwrap_err().to_string(),
            "malformed XML: undeclared entity '&bad;'"
        );
    }

    /// Valid envelopes with a few bytes changed, inserted or removed.
    fn mutated() -> impl Strategy<Value = Vec<u8>> {
        let docs = [
            samples::VERIFY_SOAPENV_PAFN,
            samples::VERIFY_JAXWS,
            samples::VERIFY_DEFAULT_NS,
            samples::GET_PAYMENT_V2_FULL,
        ];
        let interesting = prop_oneof![
            any::<u8>(),
            prop::sample::select(b"<>/&;:=\"'!?[]#x- \n".to_vec())
        ];
        (
            prop::sample::select(docs.to_vec()),
            prop::collection::vec((any::<prop::sample::Index>(), 0..3u8, interesting), 1..8),
        )
            .prop_map(|(doc, edits)| {
                let mut doc = doc.as_bytes().to_vec();
                for (at, kind, byte) in edits {
                    let i = at.index(doc.len());
                    match kind {
                        0 => doc[i] = byte,
                        1 => doc.insert(i, byte),
                        _ => {
                            doc.remove(i);
                        }
                    }
                }
                doc
            })
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            let _ = read_envelope(&bytes);
        }

        #[test]
        fn never_panics_on_mutated_envelopes(doc in mutated()) {
            let _ = read_envelope(&doc);
        }
    }
}
