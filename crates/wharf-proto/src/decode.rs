//! Protobuf → JSON, generic over the schema table.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Number, Value};

use crate::gofmt;
use crate::schema::{Field, Kind, Message, Scalar, Schema, Shape, Special};
use crate::wire::{Reader, WireValue};
use crate::{ProtoError, MAGIC};

/// Deeper nesting than any Kubernetes object needs; guards the stack against hostile input.
const MAX_DEPTH: usize = 100;

/// What was read for one field of a message.
enum Slot<'a> {
    Empty,
    /// A singular scalar: the last value on the wire wins.
    Scalar(Value),
    /// A singular message: its chunks, merged by concatenation as protobuf specifies.
    Chunks(Vec<&'a [u8]>),
    /// A singular message, decoded.
    Message(Value),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
}

pub(crate) struct Decoder<'s> {
    pub(crate) schema: &'s Schema,
}

impl Decoder<'_> {
    fn malformed(&self, msg: &Message, detail: impl Into<String>) -> ProtoError {
        ProtoError::Malformed {
            message: msg.name.clone(),
            detail: detail.into(),
        }
    }

    /// Decodes the bytes of message `index` into its JSON form.
    pub(crate) fn message(
        &self,
        index: usize,
        bytes: &[u8],
        depth: usize,
    ) -> Result<Value, ProtoError> {
        let msg = &self.schema.messages[index];
        if depth > MAX_DEPTH {
            return Err(ProtoError::TooDeep {
                message: msg.name.clone(),
            });
        }
        match msg.special {
            Special::Time | Special::MicroTime => return self.time(msg, bytes),
            Special::Duration => {
                let nanos = self.int_field(msg, bytes, 1)?.unwrap_or(0);
                return Ok(Value::String(gofmt::format_duration(nanos)));
            }
            Special::IntOrString => return self.int_or_string(msg, bytes),
            Special::Quantity => {
                let s = self.string_field(msg, bytes, 1)?.unwrap_or_default();
                return Ok(Value::String(if s.is_empty() {
                    "0".to_string()
                } else {
                    s
                }));
            }
            Special::RawExtension | Special::EmbeddedJson => return self.raw(msg, bytes, depth),
            _ => {}
        }
        let mut slots = self.collect(msg, bytes, depth)?;
        let mut get = |tag: u32| -> Option<Value> {
            let i = msg.field_index(tag)?;
            slot_value(std::mem::replace(&mut slots[i], Slot::Empty))
        };
        match msg.special {
            // JSONSchemaPropsOrArray: {schema=1, JSONSchemas=2}
            Special::SchemaOrArray => Ok(match get(2) {
                Some(list) => list,
                None => get(1).unwrap_or(Value::Null),
            }),
            // JSONSchemaPropsOrBool: {allows=1, schema=2}
            Special::SchemaOrBool => Ok(match get(2) {
                Some(schema) => schema,
                None => get(1)
                    .filter(|v| v.as_bool() == Some(true))
                    .unwrap_or(Value::Bool(false)),
            }),
            // JSONSchemaPropsOrStringArray: {schema=1, property=2}
            Special::SchemaOrStringArray => Ok(get(2).or_else(|| get(1)).unwrap_or(Value::Null)),
            Special::Wrap => Ok(get(1).unwrap_or(Value::Array(Vec::new()))),
            _ => {
                let mut out = Map::new();
                for (field, slot) in msg.fields.iter().zip(slots) {
                    let Some(value) = slot_value(slot) else {
                        continue;
                    };
                    if field.inline {
                        if let Value::Object(inner) = value {
                            for (k, v) in inner {
                                out.entry(k).or_insert(v);
                            }
                        }
                    } else {
                        out.insert(field.json.clone(), value);
                    }
                }
                Ok(Value::Object(out))
            }
        }
    }

    /// Reads every field of `bytes` into per-field slots (unknown fields are skipped, as Go does).
    fn collect<'a>(
        &self,
        msg: &Message,
        bytes: &'a [u8],
        depth: usize,
    ) -> Result<Vec<Slot<'a>>, ProtoError> {
        let mut slots: Vec<Slot<'a>> = msg.fields.iter().map(|_| Slot::Empty).collect();
        let mut reader = Reader::new(bytes);
        while let Some((tag, value)) = reader.next_field().map_err(|e| self.malformed(msg, e))? {
            let Some(i) = msg.field_index(tag) else {
                continue;
            };
            let field = &msg.fields[i];
            match field.shape {
                Shape::Single => match field.kind {
                    Kind::Scalar(s) => slots[i] = Slot::Scalar(self.scalar(msg, field, s, value)?),
                    Kind::Message(_) => {
                        let WireValue::Bytes(b) = value else {
                            return Err(self.wrong_wire_type(msg, field, value));
                        };
                        match &mut slots[i] {
                            Slot::Chunks(c) => c.push(b),
                            slot => *slot = Slot::Chunks(vec![b]),
                        }
                    }
                },
                Shape::Repeated => {
                    let mut items = Vec::new();
                    match (field.kind, value) {
                        (Kind::Message(m), WireValue::Bytes(b)) => {
                            items.push(self.message(m, b, depth + 1)?)
                        }
                        (Kind::Scalar(s @ (Scalar::String | Scalar::Bytes)), v) => {
                            items.push(self.scalar(msg, field, s, v)?);
                        }
                        // Packed numeric values.
                        (Kind::Scalar(s), WireValue::Bytes(b)) => {
                            let mut r = Reader::new(b);
                            while !r.at_end() {
                                let v = match s {
                                    Scalar::Double => WireValue::Fixed64(
                                        r.fixed64().map_err(|e| self.malformed(msg, e))?,
                                    ),
                                    _ => WireValue::Varint(
                                        r.varint().map_err(|e| self.malformed(msg, e))?,
                                    ),
                                };
                                items.push(self.scalar(msg, field, s, v)?);
                            }
                        }
                        (Kind::Scalar(s), v) => items.push(self.scalar(msg, field, s, v)?),
                        (Kind::Message(_), v) => return Err(self.wrong_wire_type(msg, field, v)),
                    }
                    match &mut slots[i] {
                        Slot::List(l) => l.extend(items),
                        slot => *slot = Slot::List(items),
                    }
                }
                Shape::Map(key_type) => {
                    let WireValue::Bytes(entry) = value else {
                        return Err(self.wrong_wire_type(msg, field, value));
                    };
                    let (k, v) = self.map_entry(msg, field, key_type, entry, depth)?;
                    match &mut slots[i] {
                        Slot::Map(m) => {
                            m.insert(k, v);
                        }
                        slot => *slot = Slot::Map(BTreeMap::from([(k, v)])),
                    }
                }
            }
        }
        for (slot, field) in slots.iter_mut().zip(&msg.fields) {
            if let (Slot::Chunks(chunks), Kind::Message(m)) = (&*slot, field.kind) {
                let value = match chunks.as_slice() {
                    [one] => self.message(m, one, depth + 1)?,
                    many => self.message(m, &concat(many), depth + 1)?,
                };
                *slot = Slot::Message(value);
            }
        }
        Ok(slots)
    }

    fn map_entry(
        &self,
        msg: &Message,
        field: &Field,
        key_type: Scalar,
        entry: &[u8],
        depth: usize,
    ) -> Result<(String, Value), ProtoError> {
        let mut key: Option<Value> = None;
        let mut val_chunks: Vec<&[u8]> = Vec::new();
        let mut val_scalar: Option<Value> = None;
        let mut r = Reader::new(entry);
        while let Some((tag, v)) = r.next_field().map_err(|e| self.malformed(msg, e))? {
            match tag {
                1 => key = Some(self.scalar(msg, field, key_type, v)?),
                2 => match field.kind {
                    Kind::Scalar(s) => val_scalar = Some(self.scalar(msg, field, s, v)?),
                    Kind::Message(_) => match v {
                        WireValue::Bytes(b) => val_chunks.push(b),
                        other => return Err(self.wrong_wire_type(msg, field, other)),
                    },
                },
                _ => {}
            }
        }
        let key = match key {
            Some(Value::String(s)) => s,
            Some(other) => other.to_string(),
            None => String::new(),
        };
        let value = match field.kind {
            Kind::Scalar(s) => val_scalar.unwrap_or_else(|| zero(s)),
            Kind::Message(m) => self.message(m, &concat(&val_chunks), depth + 1)?,
        };
        Ok((key, value))
    }

    fn wrong_wire_type(&self, msg: &Message, field: &Field, v: WireValue<'_>) -> ProtoError {
        self.malformed(
            msg,
            format!(
                "field {} ({}) has wire type {}",
                field.json,
                field.tag,
                v.wire_type()
            ),
        )
    }

    fn scalar(
        &self,
        msg: &Message,
        field: &Field,
        s: Scalar,
        v: WireValue<'_>,
    ) -> Result<Value, ProtoError> {
        Ok(match (s, v) {
            (Scalar::String, WireValue::Bytes(b)) => {
                Value::String(String::from_utf8_lossy(b).into_owned())
            }
            (Scalar::Bytes, WireValue::Bytes(b)) => {
                Value::String(base64::engine::general_purpose::STANDARD.encode(b))
            }
            (Scalar::Bool, WireValue::Varint(n)) => Value::Bool(n != 0),
            // Truncation is protobuf's int32 semantics.
            (Scalar::Int32, WireValue::Varint(n)) => Value::from(n as i64 as i32),
            (Scalar::Int64, WireValue::Varint(n)) => Value::from(n as i64),
            (Scalar::Double, WireValue::Fixed64(bits)) => double(f64::from_bits(bits)),
            (_, v) => return Err(self.wrong_wire_type(msg, field, v)),
        })
    }

    fn first_scalar<'a>(
        &self,
        msg: &Message,
        bytes: &'a [u8],
        tag: u32,
    ) -> Result<Option<WireValue<'a>>, ProtoError> {
        let mut r = Reader::new(bytes);
        let mut out = None;
        while let Some((t, v)) = r.next_field().map_err(|e| self.malformed(msg, e))? {
            if t == tag {
                out = Some(v);
            }
        }
        Ok(out)
    }

    fn int_field(&self, msg: &Message, bytes: &[u8], tag: u32) -> Result<Option<i64>, ProtoError> {
        match self.first_scalar(msg, bytes, tag)? {
            None => Ok(None),
            Some(WireValue::Varint(n)) => Ok(Some(n as i64)),
            Some(v) => {
                Err(self.malformed(msg, format!("field {tag} has wire type {}", v.wire_type())))
            }
        }
    }

    fn string_field(
        &self,
        msg: &Message,
        bytes: &[u8],
        tag: u32,
    ) -> Result<Option<String>, ProtoError> {
        match self.first_scalar(msg, bytes, tag)? {
            None => Ok(None),
            Some(WireValue::Bytes(b)) => Ok(Some(String::from_utf8_lossy(b).into_owned())),
            Some(v) => {
                Err(self.malformed(msg, format!("field {tag} has wire type {}", v.wire_type())))
            }
        }
    }

    fn bytes_field<'a>(
        &self,
        msg: &Message,
        bytes: &'a [u8],
        tag: u32,
    ) -> Result<Option<&'a [u8]>, ProtoError> {
        match self.first_scalar(msg, bytes, tag)? {
            None => Ok(None),
            Some(WireValue::Bytes(b)) => Ok(Some(b)),
            Some(v) => {
                Err(self.malformed(msg, format!("field {tag} has wire type {}", v.wire_type())))
            }
        }
    }

    /// `metav1.Time`/`MicroTime` {seconds=1, nanos=2}: an empty message is the zero time (null).
    fn time(&self, msg: &Message, bytes: &[u8]) -> Result<Value, ProtoError> {
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        let seconds = self.int_field(msg, bytes, 1)?.unwrap_or(0);
        let nanos = i64::from(self.int_field(msg, bytes, 2)?.unwrap_or(0) as i32);
        Ok(Value::String(gofmt::format_time(
            seconds,
            nanos,
            msg.special == Special::MicroTime,
        )))
    }

    /// `IntOrString` {type=1 (0 int, 1 string), intVal=2, strVal=3}.
    fn int_or_string(&self, msg: &Message, bytes: &[u8]) -> Result<Value, ProtoError> {
        match self.int_field(msg, bytes, 1)?.unwrap_or(0) {
            0 => Ok(Value::from(
                self.int_field(msg, bytes, 2)?.unwrap_or(0) as i32
            )),
            1 => Ok(Value::String(
                self.string_field(msg, bytes, 3)?.unwrap_or_default(),
            )),
            t => Err(ProtoError::InvalidValue {
                message: msg.name.clone(),
                detail: format!("IntOrString type {t} is neither 0 (int) nor 1 (string)"),
            }),
        }
    }

    /// `RawExtension`, `FieldsV1`, apiextensions `JSON` {raw=1}: the embedded JSON document,
    /// or (RawExtension only) an embedded `k8s\0` protobuf envelope.
    fn raw(&self, msg: &Message, bytes: &[u8], depth: usize) -> Result<Value, ProtoError> {
        let raw = self.bytes_field(msg, bytes, 1)?.unwrap_or_default();
        if raw.is_empty() {
            return Ok(Value::Null);
        }
        if msg.special == Special::RawExtension && raw.starts_with(&MAGIC) {
            return crate::decode_envelope(self, raw, depth + 1);
        }
        serde_json::from_slice(raw).map_err(|source| ProtoError::EmbeddedJson {
            message: msg.name.clone(),
            source,
        })
    }
}

/// The JSON value a slot contributes, or `None` when the field is left out.
///
/// Every field present on the wire is kept, zero or not. Go's generated marshaller writes a
/// pointer field only when it is set and a non-pointer field always; which Go fields are
/// pointers is not in the protos nor in OpenAPI, so a zero is kept for both: for a pointer
/// (`replicas: 0`, `runAsUser: 0`, `readOnly: false`) it is the value, for a non-pointer
/// field absence and zero mean the same to Kubernetes. The cost is that zero-valued
/// non-pointer `omitempty` fields (`hostPort: 0`, `generateName: ""`) appear where Go's JSON
/// would leave them out. Empty lists and maps carry nothing on the wire and are left out.
fn slot_value(slot: Slot<'_>) -> Option<Value> {
    match slot {
        Slot::Empty | Slot::Chunks(_) => None,
        Slot::Scalar(v) | Slot::Message(v) => Some(v),
        Slot::List(l) => (!l.is_empty()).then_some(Value::Array(l)),
        Slot::Map(m) => (!m.is_empty()).then(|| Value::Object(m.into_iter().collect())),
    }
}

fn concat(chunks: &[&[u8]]) -> Vec<u8> {
    chunks.concat()
}

fn zero(s: Scalar) -> Value {
    match s {
        Scalar::String | Scalar::Bytes => Value::String(String::new()),
        Scalar::Bool => Value::Bool(false),
        Scalar::Int32 | Scalar::Int64 => Value::from(0),
        Scalar::Double => Value::from(0),
    }
}

/// Go prints integral floats without a fraction (`1`, not `1.0`).
fn double(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        return Value::from(f as i64);
    }
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}
