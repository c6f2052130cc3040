//! Container logs in the CRI log format, as the kubelet reads them:
//! `2016-10-06T00:17:09.669794202Z stdout F message` — one record per line, `F` for a full line,
//! `P` for a partial one (a line longer than the maximum record size is split into `P` records
//! ending with an `F` record). Files rotate by size: `log`, `log.1`, … `log.<max_files-1>`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Longest message in one record before it is split (containerd uses 16 KiB).
pub const MAX_RECORD: usize = 16 * 1024;

/// Which output stream a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The container's standard output.
    Stdout,
    /// The container's standard error.
    Stderr,
}

impl Stream {
    fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// Appends CRI records to a log file, rotating it when it grows past `max_size` bytes.
#[derive(Debug)]
pub struct LogWriter {
    path: PathBuf,
    max_size: u64,
    max_files: u32,
    file: File,
    size: u64,
}

impl LogWriter {
    /// Opens (appending) the log at `path`; `max_files` counts the current file (minimum 1).
    pub fn open(path: &Path, max_size: u64, max_files: u32) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(LogWriter { path: path.to_path_buf(), max_size, max_files: max_files.max(1), file, size })
    }

    /// Writes one record now.
    pub fn write_record(&mut self, stream: Stream, partial: bool, msg: &[u8]) -> std::io::Result<()> {
        self.write_record_at(SystemTime::now(), stream, partial, msg)
    }

    /// Writes one record with the given timestamp.
    pub fn write_record_at(
        &mut self,
        at: SystemTime,
        stream: Stream,
        partial: bool,
        msg: &[u8],
    ) -> std::io::Result<()> {
        let ts = humantime::format_rfc3339_nanos(at).to_string();
        let mut rec = Vec::with_capacity(ts.len() + msg.len() + 12);
        rec.extend_from_slice(ts.as_bytes());
        rec.push(b' ');
        rec.extend_from_slice(stream.as_str().as_bytes());
        rec.extend_from_slice(if partial { b" P " } else { b" F " });
        rec.extend_from_slice(msg);
        rec.push(b'\n');
        if self.max_size > 0 && self.size > 0 && self.size + rec.len() as u64 > self.max_size {
            self.rotate()?;
        }
        self.file.write_all(&rec)?;
        self.size += rec.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let name = |i: u32| -> PathBuf {
            if i == 0 {
                self.path.clone()
            } else {
                let mut s = self.path.clone().into_os_string();
                s.push(format!(".{i}"));
                PathBuf::from(s)
            }
        };
        if self.max_files <= 1 {
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        let _ = std::fs::remove_file(name(self.max_files - 1));
        for i in (0..self.max_files - 1).rev() {
            let from = name(i);
            if from.exists() {
                std::fs::rename(&from, name(i + 1))?;
            }
        }
        self.file = OpenOptions::new().create(true).append(true).open(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

/// Splits a byte stream into CRI records: full lines, and `P` records for over-long lines.
#[derive(Debug)]
pub struct LineSplitter {
    stream: Stream,
    buf: Vec<u8>,
    max: usize,
    strip_cr: bool,
}

impl LineSplitter {
    /// A splitter for `stream` with records of at most `max` bytes.
    pub fn new(stream: Stream, max: usize) -> Self {
        LineSplitter { stream, buf: Vec::new(), max: max.max(1), strip_cr: false }
    }

    /// Drops the `\r` a terminal puts before each `\n` (output of containers with a TTY).
    pub fn strip_cr(mut self) -> Self {
        self.strip_cr = true;
        self
    }

    /// Feeds bytes read from the stream, writing every complete record.
    pub fn feed(&mut self, data: &[u8], w: &mut LogWriter) -> std::io::Result<()> {
        self.buf.extend_from_slice(data);
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                if pos <= self.max {
                    let line: Vec<u8> = self.buf.drain(..=pos).collect();
                    let mut msg = &line[..pos];
                    if self.strip_cr {
                        msg = msg.strip_suffix(b"\r").unwrap_or(msg);
                    }
                    w.write_record(self.stream, false, msg)?;
                    continue;
                }
            }
            if self.buf.len() > self.max {
                let part: Vec<u8> = self.buf.drain(..self.max).collect();
                w.write_record(self.stream, true, &part)?;
                continue;
            }
            return Ok(());
        }
    }

    /// Flushes what is left when the stream ends (written as a full record, as containerd does).
    pub fn finish(&mut self, w: &mut LogWriter) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            let rest = std::mem::take(&mut self.buf);
            w.write_record(self.stream, false, &rest)?;
        }
        Ok(())
    }
}

/// One parsed CRI log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The timestamp as written (RFC 3339 with nanoseconds).
    pub time: String,
    /// The stream.
    pub stream: Stream,
    /// Whether this is a partial record.
    pub partial: bool,
    /// The message without the trailing newline.
    pub message: String,
}

/// Parses one line of a CRI log file.
pub fn parse_record(line: &str) -> Option<Record> {
    let mut it = line.splitn(4, ' ');
    let time = it.next()?;
    humantime::parse_rfc3339(time).ok()?;
    let stream = match it.next()? {
        "stdout" => Stream::Stdout,
        "stderr" => Stream::Stderr,
        _ => return None,
    };
    let partial = match it.next()? {
        "P" => true,
        "F" => false,
        _ => return None,
    };
    Some(Record { time: time.to_string(), stream, partial, message: it.next().unwrap_or("").to_string() })
}

/// Reads and parses every record of a log file (the current file only).
pub fn read_records(path: &Path) -> std::io::Result<Vec<Record>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text.lines().filter_map(parse_record).collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn records_have_the_cri_shape() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("0.log");
        let mut w = LogWriter::open(&p, 0, 1).unwrap();
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::new(1475713029, 669794202);
        w.write_record_at(at, Stream::Stdout, false, b"message").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "2016-10-06T00:17:09.669794202Z stdout F message\n");
    }

    #[test]
    fn long_lines_are_split_into_partial_records_and_tails_are_full() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("0.log");
        let mut w = LogWriter::open(&p, 0, 1).unwrap();
        let mut s = LineSplitter::new(Stream::Stderr, 4);
        s.feed(b"abcdefghij\nxy", &mut w).unwrap();
        s.feed(b"z\nend", &mut w).unwrap();
        s.finish(&mut w).unwrap();
        let recs = read_records(&p).unwrap();
        let got: Vec<(bool, &str)> = recs.iter().map(|r| (r.partial, r.message.as_str())).collect();
        assert_eq!(got, vec![(true, "abcd"), (true, "efgh"), (false, "ij"), (false, "xyz"), (false, "end")]);
        assert!(recs.iter().all(|r| r.stream == Stream::Stderr));
    }

    #[test]
    fn logs_rotate_by_size_keeping_max_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("0.log");
        let mut w = LogWriter::open(&p, 200, 3).unwrap();
        for i in 0..40 {
            w.write_record(Stream::Stdout, false, format!("line {i}").as_bytes()).unwrap();
        }
        assert!(std::fs::metadata(&p).unwrap().len() <= 200);
        assert!(dir.path().join("0.log.1").exists());
        assert!(dir.path().join("0.log.2").exists());
        assert!(!dir.path().join("0.log.3").exists());
        let last = read_records(&p).unwrap();
        assert_eq!(last.last().unwrap().message, "line 39");
    }
}
