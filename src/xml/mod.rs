//! The SOAP 1.1 wire format of the paForNode primitives. `envelope` reads an untrusted request
//! body into a small element tree, `requests` decodes a payload into domain requests with the
//! official XSD's rules (`receipts` the paSendRT ones), both built from the `sequence`
//! toolkit, and `responses` writes the answers, which validate against that XSD. Elements are matched by namespace URI and local name,
//! never by prefix. Nothing here knows the store or HTTP.

pub mod base64;
pub mod broadcast;
pub mod envelope;
pub mod plain;
pub mod receipts;
pub mod redact;
pub mod requests;
pub mod responses;
pub mod sequence;
pub mod service_data;
mod writer;

#[cfg(test)]
mod samples;
#[cfg(test)]
mod xsd_check;

/// The SOAP 1.1 envelope namespace.
pub const SOAP_ENV_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The namespace of the paForNode wrapper elements; their children are unqualified.
pub const PAFORNODE_NS: &str = "http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd";

/// XML's whitespace characters (space, tab, newline, carriage return).
fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// A namespace-aware reader of `bytes` that checks end names and comments, as well-formed XML
/// requires; the error is the offset of the first byte that is not UTF-8.
fn strict_reader(bytes: &[u8]) -> Result<quick_xml::reader::NsReader<&[u8]>, usize> {
    let text = std::str::from_utf8(bytes).map_err(|e| e.valid_up_to())?;
    let mut reader = quick_xml::reader::NsReader::from_str(text);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.check_comments = true;
    Ok(reader)
}

/// The text a character or entity reference stands for (`&#233;`, `&amp;`), written into
/// `utf8` for a character; an entity other than XML's five predefined ones is an error.
fn resolved_reference<'a>(
    reference: &quick_xml::events::BytesRef<'_>,
    utf8: &'a mut [u8; 4],
) -> Result<&'a str, String> {
    match reference.resolve_char_ref() {
        Ok(Some(c)) => Ok(c.encode_utf8(utf8)),
        Ok(None) => quick_xml::escape::resolve_xml_entity(reference)
            .ok_or_else(|| format!("undeclared entity '&{};'", &**reference)),
        Err(e) => Err(e.to_string()),
    }
}

/// Whether `s` is only XML whitespace.
fn is_blank(s: &str) -> bool {
    s.chars().all(is_xml_space)
}

#[cfg(test)]
mod tests {
    use super::envelope::read_envelope;
    use super::requests::decode_verify;
    use super::responses::get_payment_response;
    use super::samples;
    use crate::domain::messages::Operation;
    use std::hint::black_box;
    use std::time::Instant;

    /// Median of five rounds, in ns per call.
    fn time(mut f: impl FnMut()) -> f64 {
        const ITERATIONS: u32 = 100_000;
        for _ in 0..ITERATIONS / 10 {
            f();
        }
        let mut rounds: Vec<f64> = (0..5)
            .map(|_| {
                let start = Instant::now();
                for _ in 0..ITERATIONS {
                    f();
                }
                start.elapsed().as_nanos() as f64 / f64::from(ITERATIONS)
            })
            .collect();
        rounds.sort_by(f64::total_cmp);
        rounds[2]
    }

    /// `cargo test --release --lib xml::tests::bench -- --ignored --nocapture`
    #[test]
    #[ignore = "micro-benchmark; run in release with --ignored --nocapture"]
    fn bench() {
        let request = samples::VERIFY_SOAPENV_PAFN.as_bytes();
        let parse = time(|| {
            let payload = read_envelope(black_box(request)).unwrap();
            black_box(decode_verify(&payload.root).unwrap());
        });
        let root = read_envelope(request).unwrap().root;
        let decode = time(|| {
            black_box(decode_verify(black_box(&root)).unwrap());
        });
        // quick-xml alone: pull every event, resolve nothing.
        let floor = time(|| {
            let mut reader = quick_xml::reader::NsReader::from_reader(black_box(request));
            while !matches!(reader.read_event().unwrap(), quick_xml::events::Event::Eof) {}
        });
        let data = Ok(samples::payment_data());
        let mut size = 0;
        let write = time(|| {
            let out = get_payment_response(Operation::GetPaymentV2, black_box(&data));
            size = out.len();
            black_box(out);
        });
        println!(
            "parse + decode paVerifyPaymentNoticeReq ({} B): {parse:.0} ns/op",
            request.len()
        );
        println!("  of which decode_verify: {decode:.0} ns/op");
        println!("  (NsReader pulling the same events: {floor:.0} ns/op)");
        println!("write paGetPaymentV2Response ({size} B): {write:.0} ns/op");
    }
}
