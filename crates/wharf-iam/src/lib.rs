//! IAM and STS.
