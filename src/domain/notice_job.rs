//! A batch of payment notices made in the background: a job names the creditor's positions (by
//! IUPD, fixed when the job is made), and each of them comes out as a made notice (a PDF), a
//! refusal (the position is unknown or cannot be paid, and why) or a failure (the renderer's
//! error). The job is done when every notice has an outcome; it fails whole only when it
//! cannot run at all. What a notice's file is called in the result carries no personal data.

use std::fmt;

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Made, no notice taken yet.
    Queued,
    /// Some notices taken; more to make.
    Running,
    /// Every notice has its outcome.
    Done,
    /// The job cannot run (its creditor is no longer served); notices left are not made.
    Failed,
}

impl JobState {
    pub const ALL: [JobState; 4] = [
        JobState::Queued,
        JobState::Running,
        JobState::Done,
        JobState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "QUEUED",
            JobState::Running => "RUNNING",
            JobState::Done => "DONE",
            JobState::Failed => "FAILED",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        Self::ALL.into_iter().find(|j| j.as_str() == s)
    }

    /// Whether nothing more will happen to the job.
    pub fn finished(self) -> bool {
        matches!(self, JobState::Done | JobState::Failed)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What came of one notice of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeOutcome {
    /// Not made yet.
    Pending,
    /// Made: its PDF is kept with the job.
    Made,
    /// The position has no notice to give (unknown, or not payable), with why.
    Refused,
    /// The notice could not be rendered, with the error.
    Failed,
}

impl NoticeOutcome {
    pub const ALL: [NoticeOutcome; 4] = [
        NoticeOutcome::Pending,
        NoticeOutcome::Made,
        NoticeOutcome::Refused,
        NoticeOutcome::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NoticeOutcome::Pending => "PENDING",
            NoticeOutcome::Made => "MADE",
            NoticeOutcome::Refused => "REFUSED",
            NoticeOutcome::Failed => "FAILED",
        }
    }

    pub fn parse(s: &str) -> Option<NoticeOutcome> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

impl fmt::Display for NoticeOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of making one notice, as the worker records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeResult {
    Made(Vec<u8>),
    Refused(String),
    Failed(String),
}

impl NoticeResult {
    pub fn outcome(&self) -> NoticeOutcome {
        match self {
            NoticeResult::Made(_) => NoticeOutcome::Made,
            NoticeResult::Refused(_) => NoticeOutcome::Refused,
            NoticeResult::Failed(_) => NoticeOutcome::Failed,
        }
    }
}

/// How many notices of a job stand at each outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobCounts {
    pub pending: u32,
    pub made: u32,
    pub refused: u32,
    pub failed: u32,
}

impl JobCounts {
    pub fn total(&self) -> u32 {
        self.pending + self.made + self.refused + self.failed
    }

    pub fn add(&mut self, outcome: NoticeOutcome, n: u32) {
        match outcome {
            NoticeOutcome::Pending => self.pending += n,
            NoticeOutcome::Made => self.made += n,
            NoticeOutcome::Refused => self.refused += n,
            NoticeOutcome::Failed => self.failed += n,
        }
    }
}

/// The file name of the notice at `seq` (its place in the job's list, from 1) in the result:
/// the place only, since IUPDs often embed a debtor's fiscal code; the width keeps the files in
/// list order however they are sorted.
pub fn file_name(seq: u32, total: u32) -> String {
    let width = total.max(seq).to_string().len().max(4);
    format!("notice-{seq:0width$}.pdf")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_files_sort_in_list_order() {
        for s in JobState::ALL {
            assert_eq!(JobState::parse(s.as_str()), Some(s));
        }
        for o in NoticeOutcome::ALL {
            assert_eq!(NoticeOutcome::parse(o.as_str()), Some(o));
        }
        assert_eq!(JobState::parse("done"), None);
        assert!(JobState::Failed.finished() && !JobState::Running.finished());
        assert_eq!(file_name(7, 12), "notice-0007.pdf");
        assert_eq!(file_name(7, 12_000), "notice-00007.pdf");
        let mut names: Vec<String> = (1..=12_000).map(|s| file_name(s, 12_000)).collect();
        let listed = names.clone();
        names.sort();
        assert_eq!(names, listed);
    }

    #[test]
    fn counts_add_up() {
        let mut c = JobCounts::default();
        c.add(NoticeOutcome::Made, 3);
        c.add(NoticeOutcome::Refused, 1);
        c.add(NoticeOutcome::Pending, 2);
        assert_eq!((c.total(), c.made, c.refused, c.pending), (6, 3, 1, 2));
        assert_eq!(
            NoticeResult::Refused("x".into()).outcome(),
            NoticeOutcome::Refused
        );
    }
}
