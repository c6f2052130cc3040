//! A small XML writer for query- and EC2-protocol response bodies.

/// Escapes text for an XML element (quotes stay, as AWS writes them) or a double-quoted
/// attribute (use [`escape_attr`]).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for a double-quoted attribute.
pub fn escape_attr(s: &str) -> String {
    escape(s).replace('"', "&quot;")
}

/// Builds an XML fragment element by element.
#[derive(Debug, Default, Clone)]
pub struct XmlWriter {
    buf: String,
}

impl XmlWriter {
    /// An empty fragment.
    pub fn new() -> Self {
        Self::default()
    }
    /// `<tag>`
    pub fn open(&mut self, tag: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(tag);
        self.buf.push('>');
        self
    }
    /// `</tag>`
    pub fn close(&mut self, tag: &str) -> &mut Self {
        self.buf.push_str("</");
        self.buf.push_str(tag);
        self.buf.push('>');
        self
    }
    /// `<tag>text</tag>`, the text escaped.
    pub fn elem(&mut self, tag: &str, text: impl AsRef<str>) -> &mut Self {
        self.open(tag);
        self.buf.push_str(&escape(text.as_ref()));
        self.close(tag)
    }
    /// `<tag>text</tag>` when there is a value; nothing otherwise.
    pub fn opt(&mut self, tag: &str, text: Option<impl AsRef<str>>) -> &mut Self {
        if let Some(t) = text {
            self.elem(tag, t);
        }
        self
    }
    /// Appends an already serialized fragment.
    pub fn raw(&mut self, xml: &str) -> &mut Self {
        self.buf.push_str(xml);
        self
    }
    /// The fragment so far.
    pub fn finish(self) -> String {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        let mut w = XmlWriter::new();
        w.open("A").elem("B", "x<&>\"'").opt("C", None::<&str>).close("A");
        assert_eq!(w.finish(), "<A><B>x&lt;&amp;&gt;\"'</B></A>");
    }
}
