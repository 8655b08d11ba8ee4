//! The files of GPD's upload API (`gpd_massive_v2.json`): a document of positions to create or
//! update, or of IUPDs to delete. Its items are kept as raw JSON values, so that the import can
//! read each on its own and refuse a bad one alone, naming it as GPD's report does.

use serde::Deserialize;
use serde_json::Value;

use crate::domain::upload::UploadOperation;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PositionsFile {
    payment_positions: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IupdsFile {
    #[serde(rename = "paymentPositionIUPDs")]
    payment_position_iupds: Vec<Value>,
}

/// The items of a file's JSON document: positions to create or update, IUPDs to delete. Each
/// item is read on its own later, so one bad item is refused alone.
pub fn read_items(operation: UploadOperation, document: &[u8]) -> Result<Vec<Value>, String> {
    match operation {
        UploadOperation::Create | UploadOperation::Update => {
            super::decode::<PositionsFile>(document).map(|f| f.payment_positions)
        }
        UploadOperation::Delete => {
            super::decode::<IupdsFile>(document).map(|f| f.payment_position_iupds)
        }
    }
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
