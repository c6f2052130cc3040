//! CloudWatch for Wharf: owns the CloudWatch Logs API ([`logs`]: log groups and streams with
//! their metadata in the datastore, event data in append-only segment files in a data
//! directory, filter patterns, retention and a size cap) and, later, CloudWatch metrics.
//!
//! [`logs::Logs`] is the Rust API other components append through; [`logs::LogsService`]
//! implements [`wharf_aws::Service`] for the front door (`Logs_20140328.*`, awsJson1_1).

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod logs;

pub use logs::{Logs, LogsConfig, LogsError, LogsService};
