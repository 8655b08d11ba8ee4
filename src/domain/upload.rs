//! Files of debt positions uploaded for processing in the background (GPD's upload API): what
//! a file asks for, and how far its processing is.

/// What a file does to the positions it lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadOperation {
    /// `POST …/debtpositions/file`: `{"paymentPositions": [...]}` created.
    Create,
    /// `PUT …/debtpositions/file`: `{"paymentPositions": [...]}` replace the stored ones.
    Update,
    /// `DELETE …/debtpositions/file`: `{"paymentPositionIUPDs": [...]}` deleted.
    Delete,
}

impl UploadOperation {
    pub const ALL: [UploadOperation; 3] = [
        UploadOperation::Create,
        UploadOperation::Update,
        UploadOperation::Delete,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UploadOperation::Create => "CREATE",
            UploadOperation::Update => "UPDATE",
            UploadOperation::Delete => "DELETE",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// GPD's `operationStatus` of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationStatus {
    InProgress,
    /// Every item applied.
    Completed,
    /// Some items refused, some applied.
    CompletedWithWarnings,
    /// Every item refused.
    CompletedUnsuccessfully,
}

impl OperationStatus {
    /// The status of a file with `submitted` items, `processed` of them done, `refused` of
    /// those refused.
    pub fn of(submitted: u32, processed: u32, refused: u32) -> OperationStatus {
        if processed < submitted {
            OperationStatus::InProgress
        } else if refused == 0 {
            OperationStatus::Completed
        } else if refused < submitted {
            OperationStatus::CompletedWithWarnings
        } else {
            OperationStatus::CompletedUnsuccessfully
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OperationStatus::InProgress => "IN_PROGRESS",
            OperationStatus::Completed => "COMPLETED",
            OperationStatus::CompletedWithWarnings => "COMPLETED_WITH_WARNINGS",
            OperationStatus::CompletedUnsuccessfully => "COMPLETED_UNSUCCESSFULLY",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(OperationStatus::of(3, 2, 0), OperationStatus::InProgress);
        assert_eq!(OperationStatus::of(3, 3, 0), OperationStatus::Completed);
        assert_eq!(
            OperationStatus::of(3, 3, 1),
            OperationStatus::CompletedWithWarnings
        );
        assert_eq!(
            OperationStatus::of(3, 3, 3),
            OperationStatus::CompletedUnsuccessfully
        );
        // A file without items has nothing refused.
        assert_eq!(OperationStatus::of(0, 0, 0), OperationStatus::Completed);
        for o in UploadOperation::ALL {
            assert_eq!(UploadOperation::parse(o.as_str()), Some(o));
        }
    }
}
