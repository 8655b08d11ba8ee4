//! The files of GPD's upload API (`gpd_massive_v2.json`): a document of positions to create or
//! update, or of IUPDs to delete. Its items are kept as raw JSON values, so that the import can
//! read each on its own and refuse a bad one alone, naming it as GPD's report does.

use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde_json::Value;

use crate::domain::upload::UploadOperation;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PositionsFile<T> {
    payment_positions: Vec<T>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IupdsFile<T> {
    #[serde(rename = "paymentPositionIUPDs")]
    payment_position_iupds: Vec<T>,
}

fn items<T: DeserializeOwned>(
    operation: UploadOperation,
    document: &[u8],
) -> Result<Vec<T>, String> {
    match operation {
        UploadOperation::Create | UploadOperation::Update => {
            super::decode::<PositionsFile<T>>(document).map(|f| f.payment_positions)
        }
        UploadOperation::Delete => {
            super::decode::<IupdsFile<T>>(document).map(|f| f.payment_position_iupds)
        }
    }
}

/// The items of a file's JSON document: positions to create or update, IUPDs to delete. Each
/// item is read on its own later, so one bad item is refused alone.
pub fn read_items(operation: UploadOperation, document: &[u8]) -> Result<Vec<Value>, String> {
    items(operation, document)
}

/// How many items the file's document holds, its shape checked as [`read_items`] does, without
/// keeping them: a file is counted when it arrives and read when its turn comes.
pub fn count_items(operation: UploadOperation, document: &[u8]) -> Result<usize, String> {
    items::<IgnoredAny>(operation, document).map(|items| items.len())
}

/// How an item is named in the report: its IUPD, or its place in the file.
pub fn item_name(operation: UploadOperation, index: usize, item: &Value) -> String {
    let iupd = match operation {
        UploadOperation::Create | UploadOperation::Update => item.get("iupd"),
        UploadOperation::Delete => Some(item),
    };
    match iupd.and_then(Value::as_str) {
        Some(iupd) => iupd.to_owned(),
        None => match operation {
            UploadOperation::Create | UploadOperation::Update => {
                format!("paymentPositions[{index}]")
            }
            UploadOperation::Delete => format!("paymentPositionIUPDs[{index}]"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_counted_as_it_is_read_and_refused_alike() {
        let positions = br#"{"paymentPositions": [{"iupd": "A"}, {"iupd": "B", "x": [1, {}]}, 3]}"#;
        let iupds = br#"{"paymentPositionIUPDs": ["A", "B"]}"#;
        for (operation, document, n) in [
            (UploadOperation::Create, &positions[..], 3),
            (UploadOperation::Update, &positions[..], 3),
            (UploadOperation::Delete, &iupds[..], 2),
        ] {
            assert_eq!(count_items(operation, document), Ok(n));
            assert_eq!(read_items(operation, document).unwrap().len(), n);
        }
        for (operation, document) in [
            (UploadOperation::Create, &iupds[..]),
            (UploadOperation::Delete, &positions[..]),
            (UploadOperation::Create, &br#"{"paymentPositions": {}}"#[..]),
            (UploadOperation::Delete, &b"[1, 2"[..]),
        ] {
            let counted = count_items(operation, document).unwrap_err();
            assert_eq!(read_items(operation, document).unwrap_err(), counted);
        }
    }
}
