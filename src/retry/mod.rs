//! Retrying: the backoff schedule, the retry decision, and the loop that
//! acts on both over a transport and a clock.

pub mod backoff;
pub mod boxed;
pub mod engine;
pub mod policy;
pub mod report;
pub mod seams;
