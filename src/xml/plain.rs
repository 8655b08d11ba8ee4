//! The plain reader: paVerifyPaymentNotice, paGetPayment and paGetPaymentV2 requests read in one
//! pass over the bytes, without an element tree, when the document has the plain shape the
//! Node sends (ASCII, namespace declarations as the only attributes, an empty Header, the
//! children in XSD order, values that are valid). Anything else, valid or not, is `None`, and
//! the caller reads the document with `envelope` and `requests`, which also give every error:
//! this reader never decides a fault, so answers to unusual or bad input stay those of the
//! full path. It uses the same simple-type functions, so a value it accepts is the value the
//! full path gives.

use super::sequence::{
    st_amount, st_fiscal_code_pa, st_iso_date, st_notice_number, st_text, st_transfer_type,
};
use super::{PAFORNODE_NS, SOAP_ENV_NS};
use crate::domain::messages::{GetPaymentRequest, Operation, QrCode, RequestIds, VerifyRequest};

/// A request read by the plain reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlainRequest {
    Verify(VerifyRequest),
    /// paGetPaymentReq or paGetPaymentV2Request, as `op` says.
    GetPayment(Operation, GetPaymentRequest),
}

impl PlainRequest {
    pub fn operation(&self) -> Operation {
        match self {
            PlainRequest::Verify(_) => Operation::VerifyPaymentNotice,
            PlainRequest::GetPayment(op, _) => *op,
        }
    }

    pub fn ids(&self) -> &RequestIds {
        match self {
            PlainRequest::Verify(r) => &r.ids,
            PlainRequest::GetPayment(_, r) => &r.ids,
        }
    }

    pub fn qr_code(&self) -> &QrCode {
        match self {
            PlainRequest::Verify(r) => &r.qr_code,
            PlainRequest::GetPayment(_, r) => &r.qr_code,
        }
    }
}

/// The XML declarations taken as they are; any other goes to the full path.
const DECLARATIONS: [&str; 4] = [
    r#"<?xml version="1.0" encoding="UTF-8"?>"#,
    r#"<?xml version="1.0" encoding="utf-8"?>"#,
    r#"<?xml version='1.0' encoding='UTF-8'?>"#,
    r#"<?xml version="1.0"?>"#,
];

/// The namespaces of `xml:` and `xmlns:`, which no prefix may be bound to.
const RESERVED: [&str; 2] = [
    "http://www.w3.org/XML/1998/namespace",
    "http://www.w3.org/2000/xmlns/",
];

/// Namespace bindings in scope at once; a document declaring more goes to the full path.
const MAX_BINDINGS: usize = 8;

/// Reads `body` as a plain verify or getPayment(V2) request; `None` when it is anything else.
pub fn read(body: &[u8]) -> Option<PlainRequest> {
    // ASCII without controls but tab, newline and carriage return: no character the full path
    // would refuse or decode, and every index is a character boundary.
    if !body
        .iter()
        .all(|&b| (0x20..0x80).contains(&b) || matches!(b, b'\t' | b'\n' | b'\r'))
    {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    let mut r = Reader {
        s: text,
        pos: 0,
        bindings: [Binding::default(); MAX_BINDINGS],
        bound: 0,
        depth: 0,
    };
    if let Some(decl) = DECLARATIONS.iter().find(|d| text.starts_with(**d)) {
        r.pos = decl.len();
    }
    let envelope = r.open(Some(SOAP_ENV_NS), "Envelope")?;
    if r.comes("Header") {
        let header = r.next(Some(SOAP_ENV_NS), "Header")?;
        if !header.empty {
            r.close(&header)?;
        }
    }
    let body_tag = r.open(Some(SOAP_ENV_NS), "Body")?;
    r.blank();
    let wrapper = r.start()?;
    if wrapper.namespace != Some(PAFORNODE_NS) || wrapper.empty {
        return None;
    }
    let op = Operation::from_request_element(wrapper.local).filter(|op| {
        matches!(
            op,
            Operation::VerifyPaymentNotice | Operation::GetPayment | Operation::GetPaymentV2
        )
    })?;
    let ids = RequestIds {
        id_pa: st_text::<35>(r.leaf("idPA")?).ok()?,
        id_broker_pa: st_text::<35>(r.leaf("idBrokerPA")?).ok()?,
        id_station: st_text::<35>(r.leaf("idStation")?).ok()?,
    };
    let qr = r.open(None, "qrCode")?;
    let qr_code = QrCode {
        fiscal_code: st_fiscal_code_pa(r.leaf("fiscalCode")?).ok()?,
        notice_number: st_notice_number(r.leaf("noticeNumber")?).ok()?,
    };
    r.close(&qr)?;
    let request = match op {
        Operation::VerifyPaymentNotice => PlainRequest::Verify(VerifyRequest { ids, qr_code }),
        Operation::GetPayment | Operation::GetPaymentV2 => {
            let request = GetPaymentRequest {
                ids,
                qr_code,
                amount: r.optional_leaf("amount", st_amount)?,
                payment_note: r.optional_leaf("paymentNote", st_text::<210>)?,
                transfer_type: r.optional_leaf("transferType", st_transfer_type)?,
                due_date: r.optional_leaf("dueDate", st_iso_date)?,
            };
            PlainRequest::GetPayment(op, request)
        }
        _ => unreachable!("filtered above"),
    };
    for tag in [&wrapper, &body_tag, &envelope] {
        r.close(tag)?;
    }
    r.blank();
    (r.pos == text.len()).then_some(request)
}

/// A namespace declaration in scope: `xmlns:prefix="uri"` (`xmlns="uri"`: empty prefix) on
/// an element at `depth`.
#[derive(Clone, Copy, Default)]
struct Binding<'a> {
    prefix: &'a str,
    uri: &'a str,
    depth: usize,
}

/// A start tag read.
struct Tag<'a> {
    /// The qualified name as written, to match the end tag.
    name: &'a str,
    /// The namespace it is in, `None` when unqualified.
    namespace: Option<&'a str>,
    local: &'a str,
    /// `<name/>`.
    empty: bool,
    depth: usize,
}

struct Reader<'a> {
    s: &'a str,
    pos: usize,
    bindings: [Binding<'a>; MAX_BINDINGS],
    bound: usize,
    /// Elements open.
    depth: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    /// Skips XML whitespace, which is all the text allowed between elements here.
    fn blank(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// An NCName of ASCII letters, digits, `_`, `-` and `.`, not starting with a digit, `-`
    /// or `.`.
    fn ncname(&mut self) -> Option<&'a str> {
        let start = self.pos;
        let bytes = self.s.as_bytes();
        match bytes.get(self.pos) {
            Some(b) if b.is_ascii_alphabetic() || *b == b'_' => self.pos += 1,
            _ => return None,
        }
        while bytes
            .get(self.pos)
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            self.pos += 1;
        }
        Some(&self.s[start..self.pos])
    }

    /// `prefix:local` or `local`: (name as written, prefix or "", local).
    fn qname(&mut self) -> Option<(&'a str, &'a str, &'a str)> {
        let start = self.pos;
        let first = self.ncname()?;
        if self.peek() == Some(b':') {
            self.pos += 1;
            let local = self.ncname()?;
            Some((&self.s[start..self.pos], first, local))
        } else {
            Some((first, "", first))
        }
    }

    /// A start tag whose attributes are all namespace declarations, at the reader's position;
    /// its declarations are in scope until its end tag (an empty element's: at once).
    fn start(&mut self) -> Option<Tag<'a>> {
        if self.peek() != Some(b'<') {
            return None;
        }
        self.pos += 1;
        let (name, prefix, local) = self.qname()?;
        self.depth += 1;
        let declared_from = self.bound;
        let empty = loop {
            let before = self.pos;
            self.blank();
            match self.peek()? {
                b'>' => {
                    self.pos += 1;
                    break false;
                }
                b'/' if self.s.as_bytes().get(self.pos + 1) == Some(&b'>') => {
                    self.pos += 2;
                    break true;
                }
                // Attributes are separated by whitespace.
                _ if self.pos == before => return None,
                _ => {}
            }
            self.declaration(declared_from)?;
        };
        let tag = Tag {
            name,
            namespace: self.resolve(prefix)?,
            local,
            empty,
            depth: self.depth,
        };
        if empty {
            self.closed(tag.depth)?;
        }
        Some(tag)
    }

    /// `xmlns="uri"` or `xmlns:prefix="uri"`, into scope; any other attribute is `None`.
    fn declaration(&mut self, declared_from: usize) -> Option<()> {
        let (_, attr_prefix, attr_local) = self.qname()?;
        let prefix = match (attr_prefix, attr_local) {
            ("", "xmlns") => "",
            ("xmlns", p) if !p.get(..3).is_some_and(|x| x.eq_ignore_ascii_case("xml")) => p,
            _ => return None,
        };
        if self.peek() != Some(b'=') {
            return None;
        }
        self.pos += 1;
        let quote = self.peek().filter(|q| matches!(q, b'"' | b'\''))?;
        self.pos += 1;
        let len = self.s[self.pos..].bytes().position(|b| b == quote)?;
        let uri = &self.s[self.pos..self.pos + len];
        self.pos += len + 1;
        // References, markup, whitespace the parser would normalize, the reserved namespaces,
        // a prefix bound to nothing or twice: the full path's business.
        let unbinds_prefix = uri.is_empty() && !prefix.is_empty();
        let plain = !uri
            .bytes()
            .any(|b| matches!(b, b'<' | b'&' | b'\t' | b'\n' | b'\r'))
            && !RESERVED.contains(&uri)
            && !unbinds_prefix
            && !self.bindings[declared_from..self.bound]
                .iter()
                .any(|b| b.prefix == prefix);
        if !plain || self.bound == MAX_BINDINGS {
            return None;
        }
        self.bindings[self.bound] = Binding {
            prefix,
            uri,
            depth: self.depth,
        };
        self.bound += 1;
        Some(())
    }

    /// `</name>` of `tag`, whose declarations go out of scope.
    fn end(&mut self, tag: &Tag<'a>) -> Option<()> {
        let rest = self.s[self.pos..]
            .strip_prefix("</")?
            .strip_prefix(tag.name)?;
        self.pos = self.s.len() - rest.len();
        self.blank();
        if self.peek() != Some(b'>') {
            return None;
        }
        self.pos += 1;
        self.closed(tag.depth)
    }

    /// Takes the element open at `depth`, the innermost, out of scope.
    fn closed(&mut self, depth: usize) -> Option<()> {
        if self.depth != depth {
            return None;
        }
        while self.bound > 0 && self.bindings[self.bound - 1].depth >= depth {
            self.bound -= 1;
        }
        self.depth -= 1;
        Some(())
    }

    /// The namespace `prefix` is bound to (`None`: unqualified); an undeclared prefix is
    /// `None` of the outer option.
    fn resolve(&self, prefix: &str) -> Option<Option<&'a str>> {
        let binding = self.bindings[..self.bound]
            .iter()
            .rev()
            .find(|b| b.prefix == prefix);
        match binding {
            Some(b) if b.uri.is_empty() => Some(None),
            Some(b) => Some(Some(b.uri)),
            None if prefix.is_empty() => Some(None),
            None => None,
        }
    }

    /// The text of an unqualified leaf `name` (after whitespace): plain characters only, no
    /// reference, no child, no carriage return (which the parser would normalize).
    fn leaf(&mut self, name: &str) -> Option<&'a str> {
        let tag = self.next(None, name)?;
        if tag.empty {
            return Some("");
        }
        let len = self.s[self.pos..]
            .bytes()
            .position(|b| matches!(b, b'<' | b'&' | b'>' | b'\r'))?;
        let text = &self.s[self.pos..self.pos + len];
        self.pos += len;
        self.end(&tag)?;
        Some(text)
    }

    /// The value of leaf `name` when it comes next, `Some(None)` when something else does;
    /// `None` when it is there but not plain or not valid.
    fn optional_leaf<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<Option<T>> {
        if self.comes(name) {
            parse(self.leaf(name)?).ok().map(Some)
        } else {
            Some(None)
        }
    }

    /// Whether the next start tag (after whitespace) is named `local`, in any namespace; the
    /// reader stays where it is.
    fn comes(&mut self, local: &str) -> bool {
        let (pos, bound, depth) = (self.pos, self.bound, self.depth);
        self.blank();
        let next = self.start();
        (self.pos, self.bound, self.depth) = (pos, bound, depth);
        next.is_some_and(|tag| tag.local == local)
    }

    /// The next start tag (after whitespace) when it is `local` in `namespace` (`None`:
    /// unqualified).
    fn next(&mut self, namespace: Option<&str>, local: &str) -> Option<Tag<'a>> {
        self.blank();
        let tag = self.start()?;
        (tag.namespace == namespace && tag.local == local).then_some(tag)
    }

    /// [`Reader::next`] of an element with content, which [`Reader::close`] ends.
    fn open(&mut self, namespace: Option<&str>, local: &str) -> Option<Tag<'a>> {
        self.next(namespace, local).filter(|tag| !tag.empty)
    }

    /// The end tag of `tag`, after whitespace.
    fn close(&mut self, tag: &Tag<'a>) -> Option<()> {
        self.blank();
        self.end(tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::envelope::read_envelope;
    use crate::xml::requests::{decode_get_payment, decode_verify};
    use crate::xml::samples;
    use proptest::prelude::*;

    /// What the full path (element tree, then the decoders) reads: `None` for any error.
    fn full(body: &[u8]) -> Option<PlainRequest> {
        let payload = read_envelope(body).ok()?;
        match payload.operation()? {
            Operation::VerifyPaymentNotice => {
                decode_verify(&payload.root).ok().map(PlainRequest::Verify)
            }
            op @ (Operation::GetPayment | Operation::GetPaymentV2) => {
                decode_get_payment(&payload.root)
                    .ok()
                    .map(|r| PlainRequest::GetPayment(op, r))
            }
            _ => None,
        }
    }

    /// Whether the plain reader takes `body`, after checking that when it does it reads what
    /// the full path reads.
    fn taken(body: &str) -> bool {
        match read(body.as_bytes()) {
            Some(plain) => {
                assert_eq!(Some(&plain), full(body.as_bytes()).as_ref(), "{body}");
                true
            }
            None => false,
        }
    }

    const ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";
    const PAF: &str = "http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd";
    const IDS: &str = "<idPA>77777777777</idPA><idBrokerPA>77777777777</idBrokerPA><idStation>77777777777_01</idStation>";
    const QR: &str = "<qrCode><fiscalCode>77777777777</fiscalCode><noticeNumber>311111111112222222</noticeNumber></qrCode>";

    fn verify(children: &str) -> String {
        wrapped("paVerifyPaymentNoticeReq", children)
    }

    fn wrapped(wrapper: &str, children: &str) -> String {
        format!(
            r#"<s:Envelope xmlns:s="{ENV}"><s:Header/><s:Body><p:{wrapper} xmlns:p="{PAF}">{children}</p:{wrapper}></s:Body></s:Envelope>"#
        )
    }

    /// The request fixtures of verify and getPayment(V2), placeholders filled in.
    fn fixtures() -> Vec<(String, String)> {
        let mut found = Vec::new();
        for primitive in ["paVerifyPaymentNotice", "paGetPayment", "paGetPaymentV2"] {
            let dir = format!("{}/fixtures/{primitive}", env!("CARGO_MANIFEST_DIR"));
            for case in std::fs::read_dir(&dir).unwrap() {
                let path = case.unwrap().path().join("request.xml");
                let Ok(bytes) = std::fs::read(&path) else {
                    continue;
                };
                let mut text = String::from_utf8_lossy(&bytes).into_owned();
                while let Some(start) = text.find("{{") {
                    let end = start + text[start..].find("}}").unwrap() + 2;
                    text.replace_range(start..end, "311111111112222222");
                }
                found.push((path.display().to_string(), text));
            }
        }
        assert!(found.len() > 40, "{} fixtures", found.len());
        found
    }

    #[test]
    fn the_valid_fixtures_read_as_the_full_path_reads_them() {
        let mut plain = 0;
        for (name, body) in fixtures() {
            if taken(&body) {
                plain += 1;
            } else if name.contains("/ok") {
                // The OK cases all have the plain shape but the full-path ones listed here.
                assert!(
                    name.contains("ok_content_type") || name.contains("ok_default_namespace"),
                    "{name} not taken:\n{body}"
                );
            }
        }
        assert!(plain >= 15, "only {plain} fixtures read plainly");
        let bench = format!("{}/bench/requests", env!("CARGO_MANIFEST_DIR"));
        for file in ["verify.xml", "getpaymentv2.xml"] {
            let body = std::fs::read_to_string(format!("{bench}/{file}")).unwrap();
            assert!(
                taken(&body.replace("{{NOTICE}}", "301000000000000101")),
                "{file}"
            );
        }
        for body in [
            samples::VERIFY_SOAPENV_PAFN,
            samples::VERIFY_JAXWS,
            samples::VERIFY_DEFAULT_NS,
        ] {
            assert!(taken(body), "{body}");
        }
        // A reference in a value: the full path's.
        assert!(!taken(samples::GET_PAYMENT_V2_FULL));
        assert!(full(samples::GET_PAYMENT_V2_FULL.as_bytes()).is_some());
    }

    #[test]
    fn every_get_payment_optional_reads_as_the_full_path_reads_it() {
        for wrapper in ["paGetPaymentReq", "paGetPaymentV2Request"] {
            for extra in [
                "",
                "<amount>116.00</amount>",
                "<amount>\n 116.00\t</amount><paymentNote>cart 42</paymentNote>",
                "<transferType>POSTAL</transferType><dueDate>2030-12-31+01:00</dueDate>",
                "<amount>1.00</amount><paymentNote> x </paymentNote><transferType>PAGOPA</transferType><dueDate>2030-12-31</dueDate>",
                "<dueDate>2030-12-31Z</dueDate>",
            ] {
                assert!(
                    taken(&wrapped(wrapper, &format!("{IDS}{QR}{extra}"))),
                    "{extra}"
                );
            }
            for extra in [
                "<amount>1.0</amount>",
                "<amount/>",
                "<paymentNote></paymentNote>",
                "<transferType>BANK</transferType>",
                "<dueDate>2030-02-30</dueDate>",
                "<paymentNote>x</paymentNote><amount>1.00</amount>",
                "<amount>1.00</amount><amount>1.00</amount>",
                "<p:amount>1.00</p:amount>",
                "<amount xmlns=\"urn:x\">1.00</amount>",
                "<amount a=\"1\">1.00</amount>",
                "<other/>",
                "<amount>1.00<b/></amount>",
                "text",
            ] {
                assert!(
                    !taken(&wrapped(wrapper, &format!("{IDS}{QR}{extra}"))),
                    "{extra}"
                );
            }
        }
    }

    #[test]
    fn plain_variants_are_read_as_the_full_path_reads_them() {
        let base = verify(&format!("{IDS}{QR}"));
        let variants = [
            base.clone(),
            format!(r#"<?xml version="1.0" encoding="UTF-8"?>{base}"#),
            format!(r#"<?xml version="1.0" encoding="utf-8"?>{base}"#),
            format!(r#"<?xml version='1.0' encoding='UTF-8'?>{base}"#),
            format!(r#"<?xml version="1.0"?>{base}"#),
            format!("\n \t\r\n{base}\n\n"),
            base.replace("<s:Header/>", "<s:Header></s:Header>"),
            base.replace("<s:Header/>", "<s:Header >\n </s:Header >"),
            base.replace("<s:Header/>", ""),
            base.replace("<qrCode>", "<qrCode >")
                .replace("</qrCode>", "</qrCode\n>"),
            base.replace("><", ">\r\n  <"),
            base.replace(
                &format!(r#" xmlns:p="{PAF}""#),
                &format!(" xmlns:p='{PAF}' xmlns:q=\"urn:q\""),
            ),
            // Prefixes are only names: any will do, the default namespace too.
            base.replace("<s:", "<soap:")
                .replace("</s:", "</soap:")
                .replace("xmlns:s=", "xmlns:soap="),
            base.replace("<p:", "<ns2:")
                .replace("</p:", "</ns2:")
                .replace("xmlns:p=", "xmlns:ns2="),
            base.replace("<idPA>", "<idPA xmlns=\"\">"),
            format!(
                r#"<Envelope xmlns="{ENV}"><Body><paVerifyPaymentNoticeReq xmlns="{PAF}"><idPA xmlns="">77777777777</idPA><idBrokerPA xmlns="">1</idBrokerPA><idStation xmlns="">1</idStation><qrCode xmlns=""><fiscalCode>77777777777</fiscalCode><noticeNumber>311111111112222222</noticeNumber></qrCode></paVerifyPaymentNoticeReq></Body></Envelope>"#
            ),
            // Declared on the Body, redeclared inside.
            base.replace("<s:Body>", r#"<s:Body xmlns:p="urn:other">"#),
            base.replace("<s:Envelope ", &format!(r#"<s:Envelope xmlns:p="{PAF}" "#))
                .replace(&format!(r#" xmlns:p="{PAF}">"#), ">"),
            // Values keep their whitespace, as stText35 does.
            verify(&format!(
                "<idPA> 7 </idPA><idBrokerPA>\t1\n</idBrokerPA><idStation>a b</idStation>{QR}"
            )),
            verify(&format!(
                "<idPA>{}</idPA><idBrokerPA>1</idBrokerPA><idStation>1</idStation>{QR}",
                "x".repeat(35)
            )),
        ];
        for (i, body) in variants.iter().enumerate() {
            assert!(taken(body), "variant {i} not read plainly:\n{body}");
        }
    }

    #[test]
    fn anything_else_is_left_to_the_full_path() {
        let base = verify(&format!("{IDS}{QR}"));
        let variants = [
            // Not plain, though valid: the full path reads them.
            base.replace("77777777777_01", "77777777777&#95;01"),
            base.replace("77777777777_01", "77777777777&amp;01"),
            base.replace("77777777777_01", "<![CDATA[77777777777_01]]>"),
            base.replace("<qrCode>", "<!-- c --><qrCode>"),
            base.replace("<qrCode>", "<?pi x?><qrCode>"),
            base.replace("77777777777_01", "7777777777è_01"),
            base.replace("77777777777_01", "77777777777\r01"),
            format!("\u{feff}{base}"),
            format!(r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>{base}"#),
            format!("{base}<!-- after -->"),
            base.replace("<s:Header/>", "<s:Header><h>1</h></s:Header>"),
            base.replace(
                "<idPA>",
                r#"<idPA xsi:nil="false" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">"#,
            ),
            base.replace("<s:Body>", r#"<s:Body xmlns:p="urn:a" xmlns:p="urn:a">"#),
            base.replace("<s:Body>", "<s:Body xmlns:q=\"urn:\tq\">"),
            base.replace("<s:Body>", "<s:Body xmlns:q=\"\">"),
            base.replace(
                "<s:Body>",
                "<s:Body xmlns:xml=\"http://www.w3.org/XML/1998/namespace\">",
            ),
            base.replace(
                "<s:Body>",
                "<s:Body xmlns:q=\"http://www.w3.org/2000/xmlns/\">",
            ),
            base.replace("<s:Body>", r#"<s:Body xmlns:a="1"xmlns:b="2">"#),
            base.replace("<s:Body>", r#"<s:Body xmlns:a = "1">"#),
            // Not valid: the full path says why.
            String::new(),
            "not xml".to_owned(),
            base.replace("</s:Envelope>", ""),
            format!("{base}<x/>"),
            format!("{base}text"),
            format!(" <?xml version=\"1.0\"?>{base}"),
            base.replace("s:Body", "s:Bodies"),
            base.replace("<s:Body>", "<s:Body><x/>"),
            base.replace(
                "</p:paVerifyPaymentNoticeReq>",
                "</p:paVerifyPaymentNoticeReq><q/>",
            ),
            base.replace(
                &format!("xmlns:s=\"{ENV}\""),
                "xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"",
            ),
            base.replace(&format!("xmlns:p=\"{PAF}\""), "xmlns:p=\"urn:other\""),
            base.replace("paVerifyPaymentNoticeReq", "paVerifyPaymentNoticeRes"),
            base.replace("paVerifyPaymentNoticeReq", "paSendRTReq"),
            base.replace(
                "<p:paVerifyPaymentNoticeReq ",
                "<p:paVerifyPaymentNoticeReq a=\"1\" ",
            ),
            base.replace("</idPA>", "</idpa>"),
            base.replace("<idPA>", "<p:idPA>")
                .replace("</idPA>", "</p:idPA>"),
            base.replace("<idPA>77777777777</idPA>", ""),
            base.replace(
                "<idPA>77777777777</idPA>",
                "<idPA>77777777777</idPA><idPA>1</idPA>",
            ),
            base.replace("<idPA>77777777777</idPA>", "<idPA/>"),
            base.replace(
                "<idPA>77777777777</idPA>",
                &format!("<idPA>{}</idPA>", "x".repeat(36)),
            ),
            base.replace("<idStation>77777777777_01</idStation>", "")
                .replace("<idBrokerPA>", "<idStation>1</idStation><idBrokerPA>"),
            base.replace("311111111112222222", "31111111111222222"),
            base.replace("311111111112222222", " 311111111112222222"),
            base.replace(">77777777777</fiscalCode>", ">7777777777a</fiscalCode>"),
            base.replace("<fiscalCode>77777777777</fiscalCode>", ""),
            base.replace("</qrCode>", "<x/></qrCode>"),
            base.replace("</qrCode>", "</qrCode>text"),
            base.replace("<qrCode>", "<qrCode>text"),
            base.replace("<qrCode>", "<q:qrCode xmlns:q=\"urn:q\">")
                .replace("</qrCode>", "</q:qrCode>"),
            base.replace("<qrCode>", "<qrCode xmlns=\"urn:q\">"),
            base.replace("<s:Header/>", "<s:Header/><s:Header/>"),
            base.replace("<s:Header/>", "")
                .replace("</s:Body>", "</s:Body><s:Header/>"),
            base.replace("<s:Header/>", "<u:Header xmlns:u=\"urn:u\"/>"),
            base.replace("s:Header", "z:Header"),
            base.replace("<idPA>", "<idPA>\u{1}"),
            base.replace("<idPA>", "<idPA>]]>"),
            base.replace("<idPA>", "<1idPA>"),
            base.replace("<qrCode>", "<qrCode/><qrCode>"),
        ];
        for (i, body) in variants.iter().enumerate() {
            assert!(!taken(body), "variant {i} read plainly:\n{body}");
        }
    }

    /// The documents every mutation starts from.
    fn bases() -> Vec<String> {
        vec![
            samples::VERIFY_SOAPENV_PAFN.to_owned(),
            samples::VERIFY_JAXWS.to_owned(),
            samples::VERIFY_DEFAULT_NS.to_owned(),
            wrapped(
                "paGetPaymentV2Request",
                &format!("{IDS}{QR}<amount>1.00</amount><transferType>PAGOPA</transferType>"),
            ),
        ]
    }

    /// Bytes and strings that change what a document means when put anywhere in it.
    const PIECES: [&str; 24] = [
        "<",
        ">",
        "/",
        "&",
        ";",
        "\"",
        "'",
        "=",
        ":",
        " ",
        "\n",
        "\r",
        "x",
        "1",
        "è",
        "\u{0}",
        "<a/>",
        "</a>",
        "<!--c-->",
        "<![CDATA[x]]>",
        "&amp;",
        "xmlns=\"\"",
        "p:",
        "/>",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Any document: read as the full path reads it, or left to it.
        #[test]
        fn mutated_documents_are_read_as_the_full_path_reads_them(
            base in 0..4usize,
            edits in proptest::collection::vec((any::<prop::sample::Index>(), 0..3u8, 0..PIECES.len()), 1..4),
        ) {
            let mut doc = bases()[base].clone().into_bytes();
            for (at, kind, piece) in edits {
                let i = at.index(doc.len() + 1);
                match kind {
                    0 if i < doc.len() => { doc.remove(i); }
                    1 if i < doc.len() => { doc[i] = PIECES[piece].as_bytes()[0]; }
                    _ => { doc.splice(i..i, PIECES[piece].bytes()); }
                }
            }
            if let Some(plain) = read(&doc) {
                prop_assert_eq!(Some(plain), full(&doc));
            }
        }
    }
}
