//! Protobuf wire format: a reader over one message's bytes and a writer.

/// One field value as it appears on the wire.
#[derive(Debug, Clone, Copy)]
pub(crate) enum WireValue<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    /// 4 bytes (proto `float`/`fixed32`; Kubernetes uses neither).
    Fixed32,
}

impl WireValue<'_> {
    /// The wire type number, for error messages.
    pub(crate) fn wire_type(&self) -> u8 {
        match self {
            WireValue::Varint(_) => 0,
            WireValue::Fixed64(_) => 1,
            WireValue::Bytes(_) => 2,
            WireValue::Fixed32 => 5,
        }
    }
}

/// Reads `(field number, value)` pairs from one message.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn varint(&mut self) -> Result<u64, &'static str> {
        let mut out: u64 = 0;
        for i in 0..10 {
            let b = *self.buf.get(self.pos).ok_or("truncated varint")?;
            self.pos += 1;
            if i == 9 && b > 1 {
                return Err("varint overflows 64 bits");
            }
            out |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(out);
            }
        }
        Err("varint longer than 10 bytes")
    }

    /// Whether every byte was read.
    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// A little-endian 8-byte value (packed doubles).
    pub(crate) fn fixed64(&mut self) -> Result<u64, &'static str> {
        Ok(u64::from_le_bytes(self.fixed::<8>()?))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        let end = self.pos.checked_add(n).ok_or("length overflows")?;
        let s = self.buf.get(self.pos..end).ok_or("truncated field")?;
        self.pos = end;
        Ok(s)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], &'static str> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// Skips a group whose start tag was just read, up to its matching end tag.
    fn skip_group(&mut self, number: u32, depth: usize) -> Result<(), &'static str> {
        if depth > 64 {
            return Err("groups nested too deeply");
        }
        loop {
            if self.pos >= self.buf.len() {
                return Err("unterminated group");
            }
            let key = self.varint()?;
            let (n, wt) = split_key(key)?;
            match wt {
                0 => {
                    self.varint()?;
                }
                1 => {
                    self.take(8)?;
                }
                2 => {
                    let len = usize::try_from(self.varint()?).map_err(|_| "length overflows")?;
                    self.take(len)?;
                }
                3 => self.skip_group(n, depth + 1)?,
                4 if n == number => return Ok(()),
                4 => return Err("mismatched end group"),
                5 => {
                    self.take(4)?;
                }
                _ => return Err("invalid wire type"),
            }
        }
    }

    /// The next field, or `None` at the end of the message. Groups (unused by
    /// Kubernetes) are skipped.
    pub(crate) fn next_field(&mut self) -> Result<Option<(u32, WireValue<'a>)>, &'static str> {
        loop {
            if self.pos >= self.buf.len() {
                return Ok(None);
            }
            let key = self.varint()?;
            let (number, wt) = split_key(key)?;
            let value = match wt {
                0 => WireValue::Varint(self.varint()?),
                1 => WireValue::Fixed64(u64::from_le_bytes(self.fixed::<8>()?)),
                2 => {
                    let len = usize::try_from(self.varint()?).map_err(|_| "length overflows")?;
                    WireValue::Bytes(self.take(len)?)
                }
                3 => {
                    self.skip_group(number, 0)?;
                    continue;
                }
                4 => return Err("unexpected end group"),
                5 => {
                    self.take(4)?;
                    WireValue::Fixed32
                }
                _ => return Err("invalid wire type"),
            };
            return Ok(Some((number, value)));
        }
    }
}

fn split_key(key: u64) -> Result<(u32, u8), &'static str> {
    let number = key >> 3;
    if number == 0 || number > (1 << 29) - 1 {
        return Err("invalid field number");
    }
    // Both casts are exact: number < 2^29, key & 7 < 8.
    Ok((number as u32, (key & 7) as u8))
}

/// Appends protobuf fields to a buffer.
#[derive(Default)]
pub(crate) struct Writer {
    pub(crate) buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    pub(crate) fn key(&mut self, tag: u32, wire_type: u8) {
        self.varint((u64::from(tag) << 3) | u64::from(wire_type));
    }

    pub(crate) fn varint_field(&mut self, tag: u32, v: u64) {
        self.key(tag, 0);
        self.varint(v);
    }

    pub(crate) fn bytes_field(&mut self, tag: u32, b: &[u8]) {
        self.key(tag, 2);
        self.varint(b.len() as u64);
        self.buf.extend_from_slice(b);
    }

    pub(crate) fn double_field(&mut self, tag: u32, v: f64) {
        self.key(tag, 1);
        self.buf.extend_from_slice(&v.to_bits().to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_including_negative_int32() {
        for v in [0u64, 1, 127, 128, 300, u64::MAX, (-5i64) as u64] {
            let mut w = Writer::default();
            w.varint(v);
            let mut r = Reader::new(&w.buf);
            assert_eq!(r.varint(), Ok(v));
        }
    }

    #[test]
    fn truncated_input_is_an_error() {
        let mut r = Reader::new(&[0x0a, 0x05, b'a']);
        assert!(r.next_field().is_err());
    }
}
