//! GPD's JSON wire format, beside the SOAP one in `xml`: `model` holds the shapes of GPD's
//! PaymentPositionModel and friends as serde types, `convert` turns a request shape into a
//! validated domain position (or the list of field errors, each with its JSON path) and a
//! domain position back into the response shape, and `upload` reads the upload API's files.
//! `bizevents` reads the platform's receipts service's receipt.
//! Used by the REST API, the bulk import and the demo data; it knows only `domain`, never
//! HTTP, the store or how errors are answered.

pub mod bizevents;
pub mod convert;
pub mod model;
pub mod odp;
pub mod upload;

/// Reads a JSON document; the error names the JSON path of the problem (`body` for the whole),
/// as the API's 400 answers do. Shared with the bulk import, so a file gets the same messages.
pub fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    named(serde_path_to_error::deserialize(de))
}

/// [`decode`] for a value already read (an item of a file of positions).
pub fn decode_value<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
    named(serde_path_to_error::deserialize(value))
}

/// The error named by the path of the field it is about.
fn named<T>(result: Result<T, serde_path_to_error::Error<serde_json::Error>>) -> Result<T, String> {
    result.map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || path.is_empty() {
            format!("body: {inner}")
        } else {
            format!("{path}: {inner}")
        }
    })
}
