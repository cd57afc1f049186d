//! How the store has grouped its commits, for [`hookd_store::Store::commit_stats`].

use std::sync::atomic::{AtomicU64, Ordering};

use hookd_store::CommitStats;

/// Counts committed transactions, the operations they carried and the largest group;
/// shared between the tasks that commit and the store that reports.
#[derive(Debug, Default)]
pub(crate) struct CommitCounter {
    commits: AtomicU64,
    operations: AtomicU64,
    largest_batch: AtomicU64,
}

impl CommitCounter {
    /// Counts one commit that carried `operations` operations.
    pub(crate) fn record(&self, operations: usize) {
        let n = u64::try_from(operations).unwrap_or(u64::MAX);
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.operations.fetch_add(n, Ordering::Relaxed);
        self.largest_batch.fetch_max(n, Ordering::Relaxed);
    }

    /// The counts so far.
    pub(crate) fn snapshot(&self) -> CommitStats {
        CommitStats {
            commits: self.commits.load(Ordering::Relaxed),
            operations: self.operations.load(Ordering::Relaxed),
            largest_batch: self.largest_batch.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_commits_operations_and_the_largest_batch() {
        let counter = CommitCounter::default();
        for operations in [3, 7, 2] {
            counter.record(operations);
        }
        assert_eq!(
            counter.snapshot(),
            CommitStats {
                commits: 3,
                operations: 12,
                largest_batch: 7,
            }
        );
    }
}
