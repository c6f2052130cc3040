//! OpenAPI documents (`/openapi/v2`, `/openapi/v3`). Not served yet: every path answers 404,
//! which kubectl treats as "this server publishes no schema".

use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{ApiError, Result};
use crate::registry::Served;

/// Serves an OpenAPI path.
pub fn serve(_served: &[Arc<Served>], _segs: &[&str], _q: &HashMap<String, String>) -> Result<Value> {
    Err(ApiError::NoRoute)
}
