//! JSON → protobuf, generic over the schema table (the inverse of `decode`).

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::gofmt;
use crate::schema::{Field, Kind, Scalar, Schema, Shape, Special};
use crate::wire::Writer;
use crate::{ProtoError, MAGIC};

const MAX_DEPTH: usize = 100;

pub(crate) struct Encoder<'s> {
    pub(crate) schema: &'s Schema,
}

fn err(path: &str, detail: impl Into<String>) -> ProtoError {
    ProtoError::Encode {
        path: if path.is_empty() {
            "object".to_string()
        } else {
            path.to_string()
        },
        detail: detail.into(),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl Encoder<'_> {
    /// The `k8s\0` + `runtime.Unknown` envelope around the object's message.
    pub(crate) fn envelope(&self, obj: &Value) -> Result<Vec<u8>, ProtoError> {
        let text = |key: &str| {
            obj.get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        let kind = text("kind").ok_or_else(|| err("kind", "missing"))?;
        let api_version = text("apiVersion").ok_or_else(|| err("apiVersion", "missing"))?;
        let index = self
            .schema
            .kind(api_version, kind)
            .ok_or_else(|| ProtoError::UnknownKind {
                api_version: api_version.to_string(),
                kind: kind.to_string(),
            })?;
        let raw = self.message(index, obj, "", 0)?;
        let mut type_meta = Writer::default();
        type_meta.bytes_field(1, api_version.as_bytes());
        type_meta.bytes_field(2, kind.as_bytes());
        let mut w = Writer {
            buf: MAGIC.to_vec(),
        };
        w.bytes_field(1, &type_meta.buf);
        w.bytes_field(2, &raw);
        // Go writes the (empty) contentEncoding and contentType too.
        w.bytes_field(3, b"");
        w.bytes_field(4, b"");
        Ok(w.buf)
    }

    /// The bytes of message `index` for JSON `value`.
    fn message(
        &self,
        index: usize,
        value: &Value,
        path: &str,
        depth: usize,
    ) -> Result<Vec<u8>, ProtoError> {
        if depth > MAX_DEPTH {
            return Err(err(path, "nested too deeply"));
        }
        let msg = &self.schema.messages[index];
        let mut w = Writer::default();
        match msg.special {
            Special::Time | Special::MicroTime => {
                if let Some(s) = value.as_str() {
                    let (seconds, nanos) = gofmt::parse_time(s)
                        .ok_or_else(|| err(path, format!("{s:?} is not an RFC 3339 time")))?;
                    w.varint_field(1, seconds as u64);
                    w.varint_field(2, i64::from(nanos) as u64);
                } else if !value.is_null() {
                    return Err(err(path, "a time must be a string"));
                }
            }
            Special::Duration => {
                let nanos = match value {
                    Value::Null => 0,
                    Value::String(s) => gofmt::parse_duration(s)
                        .ok_or_else(|| err(path, format!("{s:?} is not a duration")))?,
                    _ => return Err(err(path, "a duration must be a string")),
                };
                w.varint_field(1, nanos as u64);
            }
            Special::IntOrString => match value {
                Value::Number(n) => {
                    let i = n
                        .as_i64()
                        .and_then(|i| i32::try_from(i).ok())
                        .ok_or_else(|| err(path, "int-or-string number is not an int32"))?;
                    w.varint_field(1, 0);
                    w.varint_field(2, i64::from(i) as u64);
                    w.bytes_field(3, b"");
                }
                Value::Null => {
                    w.varint_field(1, 0);
                    w.varint_field(2, 0);
                    w.bytes_field(3, b"");
                }
                Value::String(s) => {
                    w.varint_field(1, 1);
                    w.varint_field(2, 0);
                    w.bytes_field(3, s.as_bytes());
                }
                _ => return Err(err(path, "int-or-string must be a number or a string")),
            },
            Special::Quantity => {
                let s = match value {
                    Value::Null => "0".to_string(),
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => return Err(err(path, "a quantity must be a string or a number")),
                };
                w.bytes_field(1, s.as_bytes());
            }
            Special::RawExtension | Special::EmbeddedJson => {
                if !value.is_null() {
                    let bytes = serde_json::to_vec(value).map_err(|e| err(path, e.to_string()))?;
                    w.bytes_field(1, &bytes);
                }
            }
            Special::SchemaOrArray => match value {
                Value::Array(_) => self.field_by_tag(index, 2, value, path, depth, &mut w)?,
                Value::Null => {}
                _ => self.field_by_tag(index, 1, value, path, depth, &mut w)?,
            },
            Special::SchemaOrBool => match value {
                Value::Bool(b) => w.varint_field(1, u64::from(*b)),
                Value::Null => w.varint_field(1, 0),
                _ => {
                    w.varint_field(1, 1);
                    self.field_by_tag(index, 2, value, path, depth, &mut w)?;
                }
            },
            Special::SchemaOrStringArray => match value {
                Value::Array(_) => self.field_by_tag(index, 2, value, path, depth, &mut w)?,
                Value::Null => {}
                _ => self.field_by_tag(index, 1, value, path, depth, &mut w)?,
            },
            Special::Wrap => {
                if !value.is_null() {
                    self.field_by_tag(index, 1, value, path, depth, &mut w)?;
                }
            }
            Special::None => {
                let empty = Map::new();
                let obj = match value {
                    Value::Object(o) => o,
                    // A null list item: the zero struct.
                    Value::Null => &empty,
                    _ => return Err(err(path, format!("{} must be an object", msg.short_name()))),
                };
                let mut fields: Vec<&Field> = msg.fields.iter().collect();
                fields.sort_by_key(|f| f.tag);
                for field in fields {
                    if field.inline {
                        let Kind::Message(m) = field.kind else {
                            continue;
                        };
                        let bytes = self.message(m, value, path, depth + 1)?;
                        w.bytes_field(field.tag, &bytes);
                        continue;
                    }
                    // Only the fields the JSON has are written (see `lib.rs`): a field the
                    // decoder got from the wire, zero or not, is in the JSON; a field absent
                    // from it is absent on the wire, which a Go reader takes as nil for a
                    // pointer and as the zero value otherwise, as its JSON decoder would.
                    let Some(v) = obj.get(&field.json) else {
                        continue;
                    };
                    if v.is_null() {
                        // `null` is the JSON of an empty Time, RawExtension, ...
                        // (`creationTimestamp: null`): send the empty message. Otherwise it
                        // is Go's nil or zero value: send nothing.
                        if let (Shape::Single, Kind::Message(m)) = (field.shape, field.kind) {
                            if self.schema.messages[m].special.null_is_empty_message() {
                                w.bytes_field(field.tag, &[]);
                            }
                        }
                        continue;
                    }
                    self.field(field, v, &join(path, &field.json), depth, &mut w)?;
                }
            }
        }
        Ok(w.buf)
    }

    fn field_by_tag(
        &self,
        index: usize,
        tag: u32,
        value: &Value,
        path: &str,
        depth: usize,
        w: &mut Writer,
    ) -> Result<(), ProtoError> {
        let msg = &self.schema.messages[index];
        let field = msg
            .field_index(tag)
            .map(|i| &msg.fields[i])
            .ok_or_else(|| ProtoError::Table(format!("{} has no field {tag}", msg.name)))?;
        self.field(field, value, path, depth, w)
    }

    /// Writes one field (all its occurrences).
    fn field(
        &self,
        field: &Field,
        v: &Value,
        path: &str,
        depth: usize,
        w: &mut Writer,
    ) -> Result<(), ProtoError> {
        match field.shape {
            Shape::Single => self.single(field.tag, field.kind, v, path, depth, w),
            Shape::Repeated => {
                let items = v.as_array().ok_or_else(|| err(path, "must be an array"))?;
                for (i, item) in items.iter().enumerate() {
                    self.single(
                        field.tag,
                        field.kind,
                        item,
                        &format!("{path}[{i}]"),
                        depth,
                        w,
                    )?;
                }
                Ok(())
            }
            Shape::Map(key_type) => {
                let entries = v
                    .as_object()
                    .ok_or_else(|| err(path, "must be an object"))?;
                let mut keys: Vec<&String> = entries.keys().collect();
                keys.sort();
                for k in keys {
                    let mut entry = Writer::default();
                    let key_value = Value::String(k.clone());
                    let sub = format!("{path}[{k}]");
                    self.single(
                        1,
                        Kind::Scalar(key_type),
                        &key_value,
                        &sub,
                        depth,
                        &mut entry,
                    )?;
                    let val = &entries[k.as_str()];
                    if !val.is_null() {
                        self.single(2, field.kind, val, &sub, depth, &mut entry)?;
                    }
                    w.bytes_field(field.tag, &entry.buf);
                }
                Ok(())
            }
        }
    }

    fn single(
        &self,
        tag: u32,
        kind: Kind,
        v: &Value,
        path: &str,
        depth: usize,
        w: &mut Writer,
    ) -> Result<(), ProtoError> {
        match kind {
            Kind::Message(m) => {
                let bytes = self.message(m, v, path, depth + 1)?;
                w.bytes_field(tag, &bytes);
            }
            Kind::Scalar(Scalar::String) => {
                let s = v.as_str().ok_or_else(|| err(path, "must be a string"))?;
                w.bytes_field(tag, s.as_bytes());
            }
            Kind::Scalar(Scalar::Bytes) => {
                let s = v
                    .as_str()
                    .ok_or_else(|| err(path, "must be a base64 string"))?;
                let b = base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map_err(|e| err(path, format!("is not base64: {e}")))?;
                w.bytes_field(tag, &b);
            }
            Kind::Scalar(Scalar::Bool) => {
                let b = v.as_bool().ok_or_else(|| err(path, "must be a boolean"))?;
                w.varint_field(tag, u64::from(b));
            }
            Kind::Scalar(Scalar::Int32) => {
                let i = integer(v)
                    .and_then(|i| i32::try_from(i).ok())
                    .ok_or_else(|| err(path, "must be an int32"))?;
                w.varint_field(tag, i64::from(i) as u64);
            }
            Kind::Scalar(Scalar::Int64) => {
                let i = integer(v).ok_or_else(|| err(path, "must be an int64"))?;
                w.varint_field(tag, i as u64);
            }
            Kind::Scalar(Scalar::Double) => {
                let f = v.as_f64().ok_or_else(|| err(path, "must be a number"))?;
                w.double_field(tag, f);
            }
        }
        Ok(())
    }
}

/// An integral JSON number (Go accepts `1.0` for an int only if it is integral too).
fn integer(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
            .map(|f| f as i64)
    })
}
