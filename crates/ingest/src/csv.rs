//! CSV in UTF-8 or GBK, read in parallel: one thread cuts the byte stream into chunks that end
//! on record boundaries (quote-aware), workers parse and validate chunks, and the sink writes
//! them in order.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crossbeam_channel::bounded;
use encoding_rs::{Decoder, GBK};

use crate::convert::{Action, Plan, Reject};
use crate::mapping::Mapping;
use crate::sink::{Chunk, Sink};
use crate::{Encoding, IngestError, LoadContext, io_err};

/// Bytes handed to a worker at a time.
const CHUNK: usize = 4 << 20;
/// A record longer than this is refused: it almost always means an unbalanced quote or a file
/// without line breaks.
pub const MAX_RECORD: usize = 8 << 20;

/// Reads the file as UTF-8 bytes, decoding GBK on the fly.
struct Source {
    file: File,
    gbk: Option<Decoder>,
    raw: Vec<u8>,
    eof: bool,
}

impl Source {
    /// Appends up to `CHUNK` decoded bytes to `buf`; returns 0 at the end of the file.
    fn fill(&mut self, buf: &mut Vec<u8>, path: &Path) -> Result<usize, IngestError> {
        if self.eof {
            return Ok(0);
        }
        let Some(dec) = self.gbk.as_mut() else {
            let start = buf.len();
            buf.resize(start + CHUNK, 0);
            let n = read_full(&mut self.file, &mut buf[start..]).map_err(io_err(path))?;
            buf.truncate(start + n);
            self.eof = n == 0;
            return Ok(n);
        };
        self.raw.resize(CHUNK, 0);
        let n = read_full(&mut self.file, &mut self.raw).map_err(io_err(path))?;
        let last = n == 0;
        let start = buf.len();
        buf.reserve(dec.max_utf8_buffer_length(n).unwrap_or(n * 3));
        let mut out = vec![0u8; dec.max_utf8_buffer_length(n).unwrap_or(n * 3) + 16];
        let (_, _, written, _) = dec.decode_to_utf8(&self.raw[..n], &mut out, last);
        buf.extend_from_slice(&out[..written]);
        self.eof = last;
        Ok(buf.len() - start)
    }
}

fn read_full(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Decides the encoding from the first bytes of the file.
fn detect(head: &[u8], declared: Encoding, file: &str) -> Result<(Encoding, usize), IngestError> {
    let structure = |reason: String, hint: &str| IngestError::Structure {
        file: file.to_string(),
        line: 1,
        reason,
        hint: Some(hint.to_string()),
    };
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        return Err(structure(
            "the file is UTF-16 encoded".into(),
            "save it as CSV in UTF-8 or GBK",
        ));
    }
    if head.starts_with(b"PK\x03\x04") || head.iter().take(4096).any(|&b| b == 0) {
        return Err(structure(
            "the file is not text (binary content)".into(),
            "an Excel workbook must have the `.xlsx` extension; CSV must be plain text",
        ));
    }
    let bom = if head.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let utf8_ok = match std::str::from_utf8(&head[bom..]) {
        Ok(_) => true,
        // A multi-byte character cut by the end of the sample is fine.
        Err(e) => e.error_len().is_none(),
    };
    let line_of =
        |valid_up_to: usize| 1 + memchr::memchr_iter(b'\n', &head[..valid_up_to]).count() as u64;
    match declared {
        Encoding::Utf8 => {
            if let Err(e) = std::str::from_utf8(&head[bom..]) {
                if e.error_len().is_some() {
                    let line = line_of(bom + e.valid_up_to());
                    let gbk_hint = if gbk_ok(head) {
                        "the file looks GBK-encoded: pass `--encoding gbk` or leave the encoding to detection"
                    } else {
                        "save the file as UTF-8"
                    };
                    return Err(IngestError::Structure {
                        file: file.into(),
                        line,
                        reason: "the file is not valid UTF-8".into(),
                        hint: Some(gbk_hint.into()),
                    });
                }
            }
            Ok((Encoding::Utf8, bom))
        }
        // A UTF-8 byte-order mark in front of GBK text (a tool added it, or files were joined)
        // is skipped, not read as the characters `锘縙` of the first column's name.
        Encoding::Gbk => Ok((Encoding::Gbk, bom)),
        Encoding::Auto if utf8_ok => Ok((Encoding::Utf8, bom)),
        Encoding::Auto if gbk_ok(&head[bom..]) => Ok((Encoding::Gbk, bom)),
        Encoding::Auto => {
            let valid = std::str::from_utf8(head)
                .map_err(|e| e.valid_up_to())
                .err()
                .unwrap_or(0);
            Err(IngestError::Structure {
                file: file.into(),
                line: line_of(valid),
                reason: "unreadable encoding: the text is neither UTF-8 nor GBK".into(),
                hint: Some("save the file as UTF-8 or GBK (GB18030) CSV".into()),
            })
        }
    }
}

fn gbk_ok(head: &[u8]) -> bool {
    let mut dec = GBK.new_decoder_without_bom_handling();
    let mut out = vec![
        0u8;
        dec.max_utf8_buffer_length_without_replacement(head.len())
            .unwrap_or(head.len() * 3)
    ];
    let (res, _, _) = dec.decode_to_utf8_without_replacement(head, &mut out, false);
    !matches!(res, encoding_rs::DecoderResult::Malformed(..))
}

/// Quote-aware scanner that finds record boundaries and counts lines.
struct Scanner {
    delim: u8,
    in_quotes: bool,
    /// Line (1-based) of the byte at `pos`.
    line: u64,
    quote_line: u64,
    pos: usize,
}

impl Scanner {
    /// Scans `buf[self.pos..]`; returns the end of the last complete record and the line that
    /// follows it. `eof` allows a final quote to be decided.
    fn scan(&mut self, buf: &[u8], eof: bool) -> Option<(usize, u64)> {
        self.scan_until(buf, eof, false)
    }

    /// Like [`Scanner::scan`], but stops at the first record boundary.
    fn scan_first(&mut self, buf: &[u8], eof: bool) -> Option<(usize, u64)> {
        self.scan_until(buf, eof, true)
    }

    fn scan_until(&mut self, buf: &[u8], eof: bool, first: bool) -> Option<(usize, u64)> {
        let mut last = None;
        let mut i = self.pos;
        while let Some(off) = memchr::memchr2(b'"', b'\n', &buf[i..]) {
            let p = i + off;
            if buf[p] == b'\n' {
                self.line += 1;
                if !self.in_quotes {
                    last = Some((p + 1, self.line));
                    if first {
                        self.pos = p + 1;
                        return last;
                    }
                }
                i = p + 1;
                continue;
            }
            if self.in_quotes {
                match buf.get(p + 1) {
                    Some(b'"') => i = p + 2,
                    None if !eof => {
                        self.pos = p;
                        return last;
                    }
                    _ => {
                        self.in_quotes = false;
                        i = p + 1;
                    }
                }
            } else {
                if p == 0 || matches!(buf[p - 1], b'\n' | b'\r') || buf[p - 1] == self.delim {
                    self.in_quotes = true;
                    self.quote_line = self.line;
                }
                i = p + 1;
            }
        }
        self.pos = buf.len();
        last
    }
}

/// Picks the delimiter that occurs most in the header line.
fn sniff_delimiter(first_line: &[u8]) -> u8 {
    [b',', b'\t', b'|', b';']
        .into_iter()
        .max_by_key(|d| first_line.iter().filter(|b| *b == d).count())
        .unwrap_or(b',')
}

/// Every record of a chunk: unescaped field bytes back to back, where each field ends, and where
/// each record's fields start.
struct Records {
    out: Vec<u8>,
    ends: Vec<usize>,
    /// (index into `ends` of the record's first field, field count, line).
    records: Vec<(usize, usize, u64)>,
}

/// Parses records out of `input`; `limit` stops after that many records.
fn parse_records(input: &[u8], delim: u8, first_line: u64, limit: usize) -> Records {
    let mut rdr = csv_core::ReaderBuilder::new().delimiter(delim).build();
    let mut out = vec![0u8; input.len() + 1024];
    let mut ends = vec![0usize; input.len() / 8 + 64];
    let mut records = Vec::with_capacity(input.len() / 64 + 1);
    let (mut pos, mut out_len, mut ends_len) = (0, 0, 0);
    let mut line = first_line;
    // Where the current record starts in `input`, `out` and `ends`.
    let (mut rec_in, mut rec_out, mut rec_end) = (0, 0, 0);
    loop {
        let (res, nin, nout, nend) =
            rdr.read_record(&input[pos..], &mut out[out_len..], &mut ends[ends_len..]);
        // Field ends count from the start of the record's output.
        for e in &mut ends[ends_len..ends_len + nend] {
            *e += rec_out;
        }
        pos += nin;
        out_len += nout;
        ends_len += nend;
        match res {
            csv_core::ReadRecordResult::OutputFull => out.resize(out.len() * 2, 0),
            csv_core::ReadRecordResult::OutputEndsFull => ends.resize(ends.len() * 2, 0),
            csv_core::ReadRecordResult::InputEmpty if pos < input.len() || nin > 0 => {}
            csv_core::ReadRecordResult::InputEmpty | csv_core::ReadRecordResult::End => {
                // Flush a last record without a line break.
                let (res, _, nout, nend) =
                    rdr.read_record(&[], &mut out[out_len..], &mut ends[ends_len..]);
                for e in &mut ends[ends_len..ends_len + nend] {
                    *e += rec_out;
                }
                out_len += nout;
                ends_len += nend;
                if res == csv_core::ReadRecordResult::Record {
                    records.push((rec_end, ends_len - rec_end, line));
                }
                break;
            }
            csv_core::ReadRecordResult::Record => {
                // Records start after any blank lines, which csv-core skips.
                let raw = &input[rec_in..pos];
                let lead = raw
                    .iter()
                    .take_while(|b| matches!(b, b'\n' | b'\r'))
                    .filter(|b| **b == b'\n')
                    .count() as u64;
                records.push((rec_end, ends_len - rec_end, line + lead));
                line += memchr::memchr_iter(b'\n', raw).count() as u64;
                (rec_in, rec_out, rec_end) = (pos, out_len, ends_len);
                if records.len() >= limit {
                    break;
                }
            }
        }
    }
    out.truncate(out_len);
    ends.truncate(ends_len);
    Records { out, ends, records }
}

impl Records {
    /// The byte range of each field of record `r`.
    fn fields(&self, r: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        let (first, n, _) = self.records[r];
        let start = if first == 0 { 0 } else { self.ends[first - 1] };
        // A record's first field starts where the previous record's last field ended.
        (first..first + n).map(move |i| {
            (
                if i == first { start } else { self.ends[i - 1] },
                self.ends[i],
            )
        })
    }
}

/// Loads one CSV file into the sink.
pub(crate) fn load(path: &Path, ctx: &LoadContext, sink: &mut Sink) -> Result<(), IngestError> {
    let file_name = path.display().to_string();
    let mut file = File::open(path).map_err(io_err(path))?;
    let size = file.metadata().map_err(io_err(path))?.len();
    let mut head = vec![0u8; 64 * 1024];
    let n = read_full(&mut file, &mut head).map_err(io_err(path))?;
    head.truncate(n);
    if head.iter().all(u8::is_ascii_whitespace) {
        return Err(IngestError::Structure {
            file: file_name,
            line: 1,
            reason: "the file is empty".into(),
            hint: None,
        });
    }
    let (encoding, skip) = detect(&head, ctx.options.encoding, &file_name)?;
    sink.report.encoding = encoding.name();
    // Restart reading after the BOM through the chosen decoder.
    let mut file = File::open(path).map_err(io_err(path))?;
    let mut bom = vec![0u8; skip];
    read_full(&mut file, &mut bom).map_err(io_err(path))?;
    let gbk = (encoding == Encoding::Gbk).then(|| GBK.new_decoder_without_bom_handling());
    let mut src = Source {
        file,
        gbk,
        raw: Vec::new(),
        eof: false,
    };

    // The header: the first record.
    let mut buf = Vec::with_capacity(CHUNK * 2);
    let mut scanner = Scanner {
        delim: b',',
        in_quotes: false,
        line: 1,
        quote_line: 1,
        pos: 0,
    };
    let header_end = loop {
        let got = src.fill(&mut buf, path)?;
        if let Some(nl) = memchr::memchr(b'\n', &buf) {
            scanner.delim = sniff_delimiter(&buf[..nl]);
        } else if got > 0 {
            if buf.len() > MAX_RECORD {
                return Err(too_long(&file_name, 1));
            }
            continue;
        } else {
            scanner.delim = sniff_delimiter(&buf);
        }
        match scanner.scan_first(&buf, got == 0) {
            Some((end, _)) => break end,
            None if got == 0 => break buf.len(),
            None if buf.len() > MAX_RECORD => return Err(too_long(&file_name, 1)),
            None => {}
        }
    };
    let delim = scanner.delim;
    let head = parse_records(&buf[..header_end], delim, 1, 1);
    let headers: Vec<String> = if head.records.is_empty() {
        Vec::new()
    } else {
        head.fields(0)
            .map(|(a, b)| String::from_utf8_lossy(&head.out[a..b]).trim().to_string())
            .collect()
    };
    if headers.iter().all(String::is_empty) {
        return Err(IngestError::Structure {
            file: file_name,
            line: 1,
            reason: "the header line is empty".into(),
            hint: Some("the first line must name the columns".into()),
        });
    }
    let mapping = Mapping::resolve(ctx.table, headers, ctx.overrides, &file_name)?;
    sink.start(&mapping)?;
    let plan = Plan::new(mapping, ctx.options.today);
    let n_fields = plan.mapping.headers.len();
    // Rescan what follows the header from a clean state.
    buf.drain(..header_end);
    let mut scanner = Scanner {
        delim,
        in_quotes: false,
        line: 2,
        quote_line: 2,
        pos: 0,
    };
    let mut next_line = 2;
    let mut consumed = header_end as u64;

    let workers = ctx.options.threads.max(1);
    let (work_tx, work_rx) = bounded::<(u64, u64, Vec<u8>, bool)>(workers * 2);
    let (done_tx, done_rx) = bounded::<Result<Chunk, IngestError>>(workers * 2);
    std::thread::scope(|s| -> Result<(), IngestError> {
        for _ in 0..workers {
            let work_rx = work_rx.clone();
            let done_tx = done_tx.clone();
            let plan = &plan;
            let file_name = &file_name;
            s.spawn(move || {
                for (seq, first_line, bytes, last) in work_rx {
                    let r = parse_chunk(
                        plan, seq, first_line, &bytes, last, n_fields, delim, file_name,
                    );
                    if done_tx.send(r).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done_tx);
        drop(work_rx);
        let writer = s.spawn(|| -> Result<(), IngestError> {
            let mut pending = std::collections::BTreeMap::new();
            let mut next = 0u64;
            for r in done_rx {
                let c = r?;
                pending.insert(c.seq, c);
                while let Some(c) = pending.remove(&next) {
                    sink.write(c)?;
                    next += 1;
                }
            }
            Ok(())
        });
        let mut seq = 0u64;
        let mut result = Ok(());
        loop {
            let got = match src.fill(&mut buf, path) {
                Ok(g) => g,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            let eof = got == 0;
            let boundary = scanner.scan(&buf, eof);
            let (cut, line_after) = match boundary {
                Some(b) if !eof => b,
                _ if eof => {
                    if scanner.in_quotes {
                        result = Err(IngestError::Structure {
                            file: file_name.clone(),
                            line: scanner.quote_line,
                            reason: "unbalanced quote: a quoted field opened on this line is never closed".into(),
                            hint: Some("check the quoting of this line; a `\"` inside a quoted field must be doubled (`\"\"`)".into()),
                        });
                        break;
                    }
                    (buf.len(), scanner.line)
                }
                _ => {
                    if buf.len() > MAX_RECORD {
                        result = Err(if scanner.in_quotes {
                            IngestError::Structure {
                                file: file_name.clone(),
                                line: scanner.quote_line,
                                reason: format!("unbalanced quote: the quoted field opened on this line runs on for more than {} MiB", MAX_RECORD >> 20),
                                hint: Some("check the quoting of this line; a `\"` inside a quoted field must be doubled (`\"\"`)".into()),
                            }
                        } else {
                            too_long(&file_name, next_line)
                        });
                        break;
                    }
                    continue;
                }
            };
            let rest = buf.split_off(cut);
            let chunk = std::mem::replace(&mut buf, rest);
            scanner.pos -= cut;
            consumed += chunk.len() as u64;
            let first = next_line;
            next_line = line_after;
            if !chunk.is_empty() || seq == 0 {
                if work_tx.send((seq, first, chunk, eof)).is_err() {
                    break;
                }
                seq += 1;
            }
            (ctx.progress)(consumed.min(size));
            if eof {
                break;
            }
        }
        drop(work_tx);
        let w = writer.join().expect("writer thread");
        result.and(w)
    })?;
    if sink.report.rows_read == 0 {
        return Err(IngestError::Structure {
            file: file_name,
            line: 2,
            reason: "the file has a header but no data rows".into(),
            hint: Some("a full load would empty the table; check the export".into()),
        });
    }
    Ok(())
}

fn too_long(file: &str, line: u64) -> IngestError {
    IngestError::Structure {
        file: file.to_string(),
        line,
        reason: format!("the line is longer than {} MiB", MAX_RECORD >> 20),
        hint: Some(
            "the file probably lacks line breaks (old Mac CR endings?) or is not CSV".into(),
        ),
    }
}

#[allow(clippy::too_many_arguments)]
fn parse_chunk(
    plan: &Plan,
    seq: u64,
    first_line: u64,
    bytes: &[u8],
    last: bool,
    n_fields: usize,
    delim: u8,
    file: &str,
) -> Result<Chunk, IngestError> {
    let mut conv = plan.converter(bytes.len() / 64 + 16);
    let mut rejects = Vec::new();
    let mut rows = 0u64;
    let mut truncated = None;
    let unterminated = last && !bytes.ends_with(b"\n");
    let recs = parse_records(bytes, delim, first_line, usize::MAX);
    // Fields split at ASCII delimiters, so a chunk that is valid UTF-8 as a whole has valid
    // fields; only a chunk that is not needs the per-field check.
    let whole = std::str::from_utf8(&recs.out)
        .ok()
        .filter(|t| memchr::memmem::find(t.as_bytes(), "\u{FFFD}".as_bytes()).is_none());
    let record_end_line = recs.records.last().map_or(first_line, |r| r.2);
    let mut strs: Vec<&str> = Vec::with_capacity(n_fields);
    for r in 0..recs.records.len() {
        let (_, n, line) = recs.records[r];
        if n == 1 && recs.fields(r).all(|(a, b)| a == b) {
            continue;
        }
        rows += 1;
        strs.clear();
        let mut bad_utf8 = None;
        for (i, (a, b)) in recs.fields(r).enumerate() {
            let field = match whole {
                Some(t) => Some(&t[a..b]),
                // GBK decoding marks undecodable bytes with U+FFFD.
                None => std::str::from_utf8(&recs.out[a..b])
                    .ok()
                    .filter(|f| !f.contains('\u{FFFD}')),
            };
            match field {
                Some(f) => strs.push(f),
                None => {
                    bad_utf8.get_or_insert(i);
                    strs.push("");
                }
            }
        }
        if let Some(i) = bad_utf8 {
            let header = plan.mapping.headers.get(i).cloned().unwrap_or_default();
            rejects.push(Reject {
                line,
                column: Some((i + 1, header)),
                reason: "bytes that do not decode in the file's encoding".into(),
                action: Action::Rejected,
            });
            continue;
        }
        if n < n_fields && unterminated {
            truncated = Some((line, n));
        }
        conv.push_row(&strs, line, &mut rejects);
    }
    if let Some((line, found)) = truncated {
        if line == record_end_line {
            return Err(IngestError::Structure {
                file: file.to_string(),
                line,
                reason: format!(
                    "the file ends in the middle of a record ({found} of {n_fields} fields and no line break): it looks truncated"
                ),
                hint: Some("export or copy the file again".into()),
            });
        }
    }
    let converted = conv.finish();
    Ok(Chunk {
        seq,
        converted,
        rejects,
        rows_read: rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Cuts `input` the way `load` does when bytes arrive `step` at a time, and parses the
    /// chunks: every record with its line.
    fn chunked(input: &[u8], step: usize) -> Vec<(Vec<String>, u64)> {
        let mut out = Vec::new();
        let mut scanner = Scanner {
            delim: b',',
            in_quotes: false,
            line: 1,
            quote_line: 1,
            pos: 0,
        };
        let mut buf = Vec::new();
        let mut fed = 0;
        let mut next_line = 1;
        loop {
            let take = step.min(input.len() - fed);
            buf.extend_from_slice(&input[fed..fed + take]);
            fed += take;
            let eof = take == 0;
            let (cut, line_after) = match scanner.scan(&buf, eof) {
                Some(b) if !eof => b,
                _ if eof => (buf.len(), scanner.line),
                _ => continue,
            };
            let rest = buf.split_off(cut);
            let chunk = std::mem::replace(&mut buf, rest);
            scanner.pos -= cut;
            let recs = parse_records(&chunk, b',', next_line, usize::MAX);
            for r in 0..recs.records.len() {
                let fields = recs
                    .fields(r)
                    .map(|(a, b)| String::from_utf8(recs.out[a..b].to_vec()).unwrap())
                    .collect();
                out.push((fields, recs.records[r].2));
            }
            next_line = line_after;
            if eof {
                return out;
            }
        }
    }

    fn random_csv(rng: &mut impl Rng) -> Vec<u8> {
        let pieces = [
            "a",
            "交易",
            "1,5",
            "say \"hi\"",
            "",
            "x\ny",
            "  z ",
            "\"",
            "r\r\ns",
            "9.50",
        ];
        let mut s = String::new();
        for _ in 0..rng.random_range(1..60) {
            let n = rng.random_range(1..6);
            let fields: Vec<String> = (0..n)
                .map(|_| {
                    let p = pieces[rng.random_range(0..pieces.len())];
                    if p.contains([',', '"', '\n', '\r']) || rng.random_bool(0.2) {
                        format!("\"{}\"", p.replace('"', "\"\""))
                    } else {
                        p.to_string()
                    }
                })
                .collect();
            s.push_str(&fields.join(","));
            s.push_str(if rng.random_bool(0.2) { "\r\n" } else { "\n" });
        }
        if rng.random_bool(0.3) {
            s.pop();
        }
        s.into_bytes()
    }

    #[test]
    fn chunked_parsing_equals_the_csv_crate_on_random_input() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for case in 0..400 {
            let input = random_csv(&mut rng);
            let mut reference = Vec::new();
            let mut rdr = ::csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(&input[..]);
            for rec in rdr.records() {
                let rec = rec.unwrap();
                // Physical line of the record's first byte (the crate's own line count skips
                // line breaks inside quoted fields).
                let mut byte = rec.position().unwrap().byte() as usize;
                while matches!(input.get(byte), Some(b'\r' | b'\n')) {
                    byte += 1;
                }
                let line = 1 + input[..byte].iter().filter(|b| **b == b'\n').count() as u64;
                reference.push((rec.iter().map(str::to_string).collect::<Vec<_>>(), line));
            }
            for step in [1, 3, 17, 4096] {
                let ours = chunked(&input, step);
                assert_eq!(
                    ours,
                    reference,
                    "case {case}, step {step}, input {:?}",
                    String::from_utf8_lossy(&input)
                );
            }
        }
    }

    #[test]
    fn encodings_are_detected_or_refused() {
        let gbk = encoding_rs::GBK
            .encode("客户号,交易金额\nC1,5\n")
            .0
            .into_owned();
        assert_eq!(detect(&gbk, Encoding::Auto, "f").unwrap().0, Encoding::Gbk);
        assert_eq!(
            detect("客户号\n".as_bytes(), Encoding::Auto, "f")
                .unwrap()
                .0,
            Encoding::Utf8
        );
        assert_eq!(
            detect(b"\xEF\xBB\xBFa\n", Encoding::Auto, "f").unwrap(),
            (Encoding::Utf8, 3)
        );
        // A character cut by the end of the sample is not an error.
        let cut = &"客户号".as_bytes()[..4];
        assert_eq!(detect(cut, Encoding::Auto, "f").unwrap().0, Encoding::Utf8);
        assert!(
            detect(&gbk, Encoding::Utf8, "f")
                .unwrap_err()
                .to_string()
                .contains("looks GBK-encoded")
        );
        assert!(
            detect(&[0xFF, 0xFE, b'a', 0], Encoding::Auto, "f")
                .unwrap_err()
                .to_string()
                .contains("UTF-16")
        );
        assert!(detect(&[0x81, 0x20, 0xFF, 0xFF], Encoding::Auto, "f").is_err());
        // GBK text behind a UTF-8 byte-order mark: the mark is skipped.
        let marked = [b"\xEF\xBB\xBF".as_slice(), &gbk].concat();
        assert_eq!(
            detect(&marked, Encoding::Auto, "f").unwrap(),
            (Encoding::Gbk, 3)
        );
        assert_eq!(
            detect(&marked, Encoding::Gbk, "f").unwrap(),
            (Encoding::Gbk, 3)
        );
    }
}
