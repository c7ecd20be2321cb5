//! Stories more than one scenario tells, and what they read from a run.
//!
//! A scenario file holds its own config, story and checks; what two scenarios share lives
//! here, so no scenario is a library for another: the partition story (`partition-5node`,
//! `split-brain`), its checks judged on the run that happened, the lost-leader story
//! (`election`, `leader-crash`), and the trace readers they use.

pub(crate) mod leader_loss;
pub(crate) mod partition;
pub(crate) mod partition_checks;
pub(crate) mod read;
