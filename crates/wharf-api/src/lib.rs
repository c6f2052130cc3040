//! Kubernetes API vocabulary without I/O: the table of served resources, label and field
//! selectors, field errors and `metav1.Status`, and the per-kind pure logic the API server's
//! strategies call (defaulting, validation, patch algorithms, Table printing, the conversion
//! between the two served versions of Events).
//!
//! Objects are `serde_json::Value`s throughout, as the API server stores them; nothing here
//! touches the network or the datastore.

pub mod apply;
pub mod defaults;
pub mod errors;
pub mod events;
pub mod meta;
pub mod patch;
pub mod resources;
pub mod schema;
pub mod selector;
pub mod table;
pub mod validation;

pub use errors::{FieldError, FieldErrorType};
pub use resources::{GroupVersionResource, ResourceInfo};
