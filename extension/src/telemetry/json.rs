//! A small JSON reader for telemetry records: walks an object member by member in whatever
//! key order it comes, hands out string and number tokens without copying, and skips the
//! values nobody asked for by counting their brackets and jumping over their strings.
//!
//! Why not serde: a record is read to answer a handful of questions (its type, a status, five
//! numbers), and the rest of it — trace headers, spans, request ids — is most of its bytes.
//! serde_json validates and visits every one of them (and `Option<String>` fields allocate);
//! this reader stops as soon as the caller has what it needs. It is strict where it reads
//! (members, strings, numbers); where it skips it only counts brackets and jumps over strings,
//! to find where the skipped part ends.

use std::borrow::Cow;

use super::Malformed;

/// Deepest nesting skipped (serde_json's own recursion limit).
const MAX_DEPTH: u32 = 128;

/// The offset of the quote that closes the string whose contents start at `i` (just after
/// its opening quote); `None` if it is not closed.
#[inline(always)]
pub fn string_end(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        i += next_quote(b.get(i..)?)?;
        if i == 0 || b[i - 1] != b'\\' {
            return Some(i);
        }
        // Escaped when an odd number of backslashes precede it (the opening quote, or the
        // start of the text, ends the run).
        let run = b[..i].iter().rev().take_while(|&&c| c == b'\\').count();
        if run % 2 == 0 {
            return Some(i);
        }
        i += 1;
    }
}

/// The offset of the first `"` in `s`, eight bytes at a time in a register: most strings of a
/// record are short (keys, types, statuses, timestamps), where a call into a vector search
/// costs more than the search.
#[inline(always)]
fn next_quote(s: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const QUOTES: u64 = ONES * b'"' as u64;
    let mut words = s.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let w = u64::from_le_bytes([word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7]]);
        // High bit set in each byte equal to `"`; a false positive can only sit above a true
        // one, so the lowest set bit is exact.
        let q = w ^ QUOTES;
        let m = q.wrapping_sub(ONES) & !q & HIGHS;
        if m != 0 {
            return Some(at + (m.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    words.remainder().iter().position(|&c| c == b'"').map(|p| at + p)
}

/// What a byte means to [`Scan::skip`]: 0 nothing, 1 a string starts, 2 a bracket opens,
/// 3 one closes.
static SKIP_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b'"' as usize] = 1;
    t[b'{' as usize] = 2;
    t[b'[' as usize] = 2;
    t[b'}' as usize] = 3;
    t[b']' as usize] = 3;
    t
};

/// Whether a member walk goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    Next,
    /// The caller has what it needs: stop without reading the rest.
    Done,
}

/// A position in one JSON text.
#[derive(Debug, Clone)]
pub struct Scan<'a> {
    b: &'a [u8],
    i: usize,
    /// Whether an object walk that stops early moves on to the object's end (false when the
    /// caller already knows where the text ends).
    finish: bool,
}

/// A string token: the bytes between the quotes, undecoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Str<'a> {
    raw: &'a [u8],
}

impl<'a> Str<'a> {
    /// The raw bytes equal `s` (which holds nothing JSON escapes: a string spelt with escapes
    /// never matches, and Lambda escapes nothing in the values compared this way).
    pub fn is(&self, s: &str) -> bool {
        self.raw == s.as_bytes()
    }

    pub fn is_ignore_ascii_case(&self, s: &str) -> bool {
        // The exact spelling first: it is the one Lambda sends.
        self.raw == s.as_bytes() || self.raw.eq_ignore_ascii_case(s.as_bytes())
    }

    /// The bytes as they are in the text (escapes undecoded).
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    pub fn has_escapes(&self) -> bool {
        memchr::memchr(b'\\', self.raw).is_some()
    }

    /// The decoded text (borrowed unless it holds escapes).
    pub fn text(&self) -> Result<Cow<'a, str>, Malformed> {
        if !self.has_escapes() {
            return std::str::from_utf8(self.raw).map(Cow::Borrowed).map_err(|_| Malformed);
        }
        // Rare (Lambda escapes nothing in the fields read): let serde_json decode it.
        let mut quoted = Vec::with_capacity(self.raw.len() + 2);
        quoted.push(b'"');
        quoted.extend_from_slice(self.raw);
        quoted.push(b'"');
        serde_json::from_slice::<String>(&quoted).map(Cow::Owned).map_err(|_| Malformed)
    }
}

impl<'a> Scan<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Self { b, i: 0, finish: true }
    }

    /// A reader of one value whose end is known: a walk that stops early stays where it
    /// stopped (the rest is never read).
    pub fn head_only(b: &'a [u8]) -> Self {
        Self { b, i: 0, finish: false }
    }

    /// Where the reader is (an offset into the text).
    pub fn offset(&self) -> usize {
        self.i
    }

    /// A second reader over the same text, at `offset`.
    pub fn fork_at(&self, offset: usize) -> Self {
        Self { b: self.b, i: offset, finish: self.finish }
    }

    /// The next byte after whitespace, if any (consumed only if `take`).
    pub fn next_byte(&mut self, take: bool) -> Option<u8> {
        self.ws();
        let c = self.b.get(self.i).copied();
        if take && c.is_some() {
            self.i += 1;
        }
        c
    }

    #[inline(always)]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    #[inline(always)]
    fn peek(&mut self) -> Result<u8, Malformed> {
        self.ws();
        self.b.get(self.i).copied().ok_or(Malformed)
    }

    #[inline(always)]
    fn expect(&mut self, c: u8) -> Result<(), Malformed> {
        if self.peek()? != c {
            return Err(Malformed);
        }
        self.i += 1;
        Ok(())
    }

    /// Calls `member` with each key of the object that starts here; `member` must read or
    /// skip the value. When it answers [`Walk::Done`] the remaining members are skipped
    /// unread (brackets counted, strings jumped) and the reader ends after the object's
    /// closing brace, as it does after a full walk — unless it reads a value whose end is
    /// known ([`Scan::head_only`]): then it stays where the walk stopped.
    pub fn object(
        &mut self,
        mut member: impl FnMut(Str<'a>, &mut Self) -> Result<Walk, Malformed>,
    ) -> Result<(), Malformed> {
        self.expect(b'{')?;
        if self.peek()? == b'}' {
            self.i += 1;
            return Ok(());
        }
        loop {
            let key = self.string()?;
            self.expect(b':')?;
            if member(key, self)? == Walk::Done {
                return if self.finish { self.skip_until_closed(1) } else { Ok(()) };
            }
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(Malformed),
            }
        }
    }

    /// A string value.
    #[inline(always)]
    pub fn string(&mut self) -> Result<Str<'a>, Malformed> {
        self.expect(b'"')?;
        let start = self.i;
        let end = string_end(self.b, start).ok_or(Malformed)?;
        self.i = end + 1;
        Ok(Str { raw: &self.b[start..end] })
    }

    /// A string or `null`.
    #[inline(always)]
    pub fn string_or_null(&mut self) -> Result<Option<Str<'a>>, Malformed> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            return Ok(None);
        }
        self.string().map(Some)
    }

    /// After an opening quote: moves past the closing one.
    #[inline]
    fn string_rest(&mut self) -> Result<(), Malformed> {
        self.i = string_end(self.b, self.i).ok_or(Malformed)? + 1;
        Ok(())
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Malformed> {
        if self.b.get(self.i..self.i + word.len()) != Some(word) {
            return Err(Malformed);
        }
        self.i += word.len();
        Ok(())
    }

    /// Consumes a `null` if one is next.
    #[inline]
    pub fn null(&mut self) -> Result<bool, Malformed> {
        if self.peek()? != b'n' {
            return Ok(false);
        }
        self.literal(b"null").map(|()| true)
    }

    /// A number token, unparsed (`-`, digits, `.`, exponent).
    #[inline]
    fn number_token(&mut self) -> Result<&'a [u8], Malformed> {
        self.ws();
        let start = self.i;
        while let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') = self.b.get(self.i) {
            self.i += 1;
        }
        if start == self.i {
            return Err(Malformed);
        }
        Ok(&self.b[start..self.i])
    }

    /// A number read as a finite `f64`, correctly rounded (as std's parser reads it).
    pub fn f64(&mut self) -> Result<f64, Malformed> {
        let n = self.number_token()?;
        // Clinger's fast path: a decimal mantissa below 2^53 divided by an exact power of ten
        // is one correctly rounded operation. Lambda's `693.92` always takes it.
        let (negative, digits) = match n {
            [b'-', rest @ ..] => (true, rest),
            _ => (false, n),
        };
        let (mut mantissa, mut decimals, mut dot) = (0u64, 0usize, false);
        let simple = !digits.is_empty()
            && digits.len() <= 16
            && digits.iter().all(|&c| match c {
                b'0'..=b'9' => {
                    mantissa = mantissa * 10 + u64::from(c - b'0');
                    decimals += usize::from(dot);
                    true
                }
                b'.' if !dot => {
                    dot = true;
                    true
                }
                _ => false,
            });
        if simple && mantissa <= 1 << 53 && digits[0] != b'.' && digits[digits.len() - 1] != b'.' {
            const POW10: [f64; 16] =
                [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];
            let v = mantissa as f64 / POW10[decimals];
            return Ok(if negative { -v } else { v });
        }
        let v: f64 = std::str::from_utf8(n).map_err(|_| Malformed)?.parse().map_err(|_| Malformed)?;
        v.is_finite().then_some(v).ok_or(Malformed)
    }

    /// A number read as an unsigned integer (digits only, as serde reads a `u64` field).
    pub fn u64(&mut self) -> Result<u64, Malformed> {
        let n = self.number_token()?;
        n.iter().try_fold(0u64, |v, &c| {
            let d = c.checked_sub(b'0').filter(|d| *d < 10).ok_or(Malformed)?;
            v.checked_mul(10).and_then(|v| v.checked_add(u64::from(d))).ok_or(Malformed)
        })
    }

    /// Skips one value of any kind. Inside objects and arrays only brackets are counted and
    /// strings jumped over: what is skipped is not otherwise checked.
    pub fn skip(&mut self) -> Result<(), Malformed> {
        match self.peek()? {
            b'"' => {
                self.i += 1;
                self.string_rest()
            }
            b'{' | b'[' => self.skip_nested(),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number_token().map(|_| ()),
        }
    }

    fn skip_nested(&mut self) -> Result<(), Malformed> {
        self.skip_until_closed(0)
    }

    /// Moves past the close of `depth` open brackets, or past one whole nested value when
    /// `depth` is 0. Brackets are counted, not matched by kind: what is skipped is read only
    /// far enough to find where it ends.
    fn skip_until_closed(&mut self, mut depth: u32) -> Result<(), Malformed> {
        let b = self.b;
        let mut i = self.i;
        loop {
            let class = loop {
                let class = SKIP_CLASS[usize::from(*b.get(i).ok_or(Malformed)?)];
                i += 1;
                if class != 0 {
                    break class;
                }
            };
            match class {
                1 => i = string_end(b, i).ok_or(Malformed)? + 1,
                2 => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(Malformed);
                    }
                }
                _ => {
                    depth = depth.checked_sub(1).ok_or(Malformed)?;
                    if depth == 0 {
                        self.i = i;
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Nothing but whitespace is left.
    pub fn at_end(&mut self) -> bool {
        self.ws();
        self.i == self.b.len()
    }
}

#[cfg(test)]
mod tests;
