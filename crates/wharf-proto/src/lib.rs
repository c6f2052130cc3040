//! Kubernetes protobuf (`application/vnd.kubernetes.protobuf`) for Wharf.
//!
//! kubectl and client-go send request bodies of built-in kinds as Kubernetes protobuf and
//! never fall back to JSON. Wharf keeps objects as `serde_json::Value`, so this crate turns
//! such a body into the JSON Kubernetes itself would produce for that object ([`decode`]),
//! and, for responses, JSON back into protobuf ([`encode`]).
//!
//! The wire format is the apimachinery protobuf serializer's: the 4-byte magic `k8s\0`
//! followed by a `runtime.Unknown` {typeMeta=1 {apiVersion=1, kind=2}, raw=2,
//! contentEncoding=3, contentType=4} whose `raw` is the object's own proto2 message.
//!
//! Every message's fields (tag, JSON name, type, cardinality, whether it is an inlined
//! embedded struct) come from a generated table, `src/table.txt`, built by
//! `scripts/gen-proto-table.py` from two crates.io crates only: `k8s-pb` 0.9 (the
//! Kubernetes v1.35 protos as prost code) and `k8s-openapi` 0.25/0.29 (JSON names; an
//! embedded struct is a message field whose name is not a JSON key of its parent while
//! all of its message's keys are). The decoder and encoder are generic over that table;
//! the only per-type code is for the types whose JSON is not an object of their fields:
//! `Time`, `MicroTime`, `Duration`, `IntOrString`, `Quantity`, `RawExtension`, `FieldsV1`,
//! apiextensions `JSON` and `JSONSchemaPropsOr*`, and named slices (`Verbs`, `ExtraValue`).
//!
//! JSON follows Go's `encoding/json` of the decoded Go struct in order and form: fields in
//! struct order, map keys sorted, present messages always emitted (`{}`; an empty `Time` is
//! `null`), `bytes` as base64. One difference: every scalar present on the wire is kept,
//! zero or not. Go writes pointer fields only when set and non-pointer fields always, and
//! neither the protos nor OpenAPI say which fields are pointers; keeping the zero keeps
//! `replicas: 0` or `runAsUser: 0` (pointers, where zero is a value) at the cost of
//! zero-valued non-pointer `omitempty` fields (`hostPort: 0`, `generateName: ""`) that Go's
//! JSON would leave out and that mean the same as their absence.

#![warn(missing_docs)]

mod decode;
mod encode;
mod gofmt;
mod schema;
mod wire;

use serde_json::{Map, Value};

/// The 4 bytes every Kubernetes protobuf body starts with.
pub const MAGIC: [u8; 4] = *b"k8s\0";

/// The media type of Kubernetes protobuf bodies.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Why a body could not be decoded or an object encoded.
#[derive(Debug, thiserror::Error)]
pub enum ProtoError {
    /// The body does not start with the `k8s\0` magic.
    #[error("body is not kubernetes protobuf: it does not start with the k8s\\0 magic")]
    NotProtobuf,
    /// The envelope's typeMeta has no kind or no apiVersion.
    #[error("protobuf envelope names no {0}")]
    MissingTypeMeta(&'static str),
    /// No protobuf message is known for the apiVersion/kind (custom resources have none).
    #[error("no protobuf message is known for apiVersion {api_version:?} kind {kind:?}")]
    UnknownKind {
        /// The envelope's or object's apiVersion.
        api_version: String,
        /// The envelope's or object's kind.
        kind: String,
    },
    /// The bytes of a message are not valid protobuf, or a field has the wrong wire type.
    #[error("malformed protobuf in {message}: {detail}")]
    Malformed {
        /// The proto message being read, e.g. `k8s.io.api.core.v1.ConfigMap`.
        message: String,
        /// What was wrong.
        detail: String,
    },
    /// A value is well-formed protobuf but not a valid value of its Kubernetes type.
    #[error("invalid value in {message}: {detail}")]
    InvalidValue {
        /// The proto message being read.
        message: String,
        /// What was wrong.
        detail: String,
    },
    /// JSON embedded in a `RawExtension`, `FieldsV1` or apiextensions `JSON` does not parse.
    #[error("embedded json in {message} does not parse: {source}")]
    EmbeddedJson {
        /// The proto message holding the JSON.
        message: String,
        /// The parse error.
        source: serde_json::Error,
    },
    /// Messages are nested deeper than any Kubernetes object (hostile input).
    #[error("messages nested too deeply at {message}")]
    TooDeep {
        /// The message at which the limit was reached.
        message: String,
    },
    /// A JSON value cannot be encoded as the protobuf field it belongs to.
    #[error("cannot encode {path}: {detail}")]
    Encode {
        /// Where in the object, e.g. `spec.replicas`.
        path: String,
        /// What was wrong.
        detail: String,
    },
    /// The generated schema table does not parse (a build defect, not an input error).
    #[error("protobuf schema table is corrupt: {0}")]
    Table(String),
}

/// Decodes a Kubernetes protobuf body (with the `k8s\0` envelope) into the object's JSON,
/// including `apiVersion` and `kind` from the envelope.
///
/// Unknown fields (newer than the table) are skipped, as Go does.
pub fn decode(body: &[u8]) -> Result<Value, ProtoError> {
    let schema = schema::schema()?;
    decode_envelope(&decode::Decoder { schema }, body, 0)
}

/// Whether `apiVersion`/`kind` has a known protobuf message (CRDs do not).
pub fn supports(api_version: &str, kind: &str) -> bool {
    schema::schema().is_ok_and(|s| s.kind(api_version, kind).is_some())
}

/// Encodes a JSON object with `apiVersion` and `kind` as a Kubernetes protobuf body
/// (with the `k8s\0` envelope), as kube-apiserver would send it.
///
/// Fields are written in ascending tag order, map keys sorted, each field the JSON has
/// (a `null` only where it stands for an empty message: `creationTimestamp: null`), and
/// inlined embedded structs always, as Go's generated marshaller does. Since the decoder
/// keeps every field present on the wire, encoding the decoded JSON of a body kubectl sent
/// reproduces it byte for byte. A field absent from the JSON is not written; Go's reader
/// then has nil or the zero value, as its JSON decoder would. JSON keys the message does not
/// know are dropped (protobuf cannot carry them); a value of the wrong JSON type is
/// [`ProtoError::Encode`].
pub fn encode(obj: &Value) -> Result<Vec<u8>, ProtoError> {
    let schema = schema::schema()?;
    encode::Encoder { schema }.envelope(obj)
}

/// Reads the envelope and decodes the object it carries.
pub(crate) fn decode_envelope(
    dec: &decode::Decoder<'_>,
    body: &[u8],
    depth: usize,
) -> Result<Value, ProtoError> {
    let data = body.strip_prefix(&MAGIC).ok_or(ProtoError::NotProtobuf)?;
    let envelope_err = |detail: &str| ProtoError::Malformed {
        message: "k8s.io.apimachinery.pkg.runtime.Unknown".to_string(),
        detail: detail.to_string(),
    };
    let mut api_version = String::new();
    let mut kind = String::new();
    let mut raw: &[u8] = &[];
    let mut reader = wire::Reader::new(data);
    while let Some((tag, value)) = reader.next_field().map_err(envelope_err)? {
        match (tag, value) {
            (1, wire::WireValue::Bytes(type_meta)) => {
                let mut tm = wire::Reader::new(type_meta);
                while let Some((t, v)) = tm.next_field().map_err(envelope_err)? {
                    match (t, v) {
                        (1, wire::WireValue::Bytes(b)) => {
                            api_version = String::from_utf8_lossy(b).into_owned()
                        }
                        (2, wire::WireValue::Bytes(b)) => {
                            kind = String::from_utf8_lossy(b).into_owned()
                        }
                        (1 | 2, _) => {
                            return Err(envelope_err("typeMeta field has the wrong wire type"))
                        }
                        _ => {}
                    }
                }
            }
            (2, wire::WireValue::Bytes(b)) => raw = b,
            // contentEncoding and contentType are ignored, as the Go serializer does.
            (3 | 4, wire::WireValue::Bytes(_)) => {}
            (1..=4, _) => return Err(envelope_err("field has the wrong wire type")),
            _ => {}
        }
    }
    if kind.is_empty() {
        return Err(ProtoError::MissingTypeMeta("kind"));
    }
    if api_version.is_empty() {
        return Err(ProtoError::MissingTypeMeta("apiVersion"));
    }
    let index = dec
        .schema
        .kind(&api_version, &kind)
        .ok_or_else(|| ProtoError::UnknownKind {
            api_version: api_version.clone(),
            kind: kind.clone(),
        })?;
    let body = dec.message(index, raw, depth)?;
    let mut out = Map::new();
    out.insert("kind".to_string(), Value::String(kind));
    out.insert("apiVersion".to_string(), Value::String(api_version));
    match body {
        Value::Object(fields) => {
            for (k, v) in fields {
                out.entry(k).or_insert(v);
            }
        }
        other => {
            return Err(ProtoError::InvalidValue {
                message: dec.schema.messages[index].name.clone(),
                detail: format!("top-level object decoded to {other}"),
            })
        }
    }
    Ok(Value::Object(out))
}
