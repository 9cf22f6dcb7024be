//! Text → normalized text plus a map back to the original bytes (docs/normalization.md).
//!
//! Sits between the message view and the matcher: every string a rule reads is normalized once per
//! level in use, matched, and each hit is mapped back to a span of the original text. Keywords and
//! `except` phrases go through the very same code ([`normalize_keyword`]), so both sides agree.
//!
//! # Levels
//!
//! Each level adds to the one before it:
//!
//! - `none`: the text as sent.
//! - `basic`: NFKC, case folding (Unicode lowercase plus the full folds `ß`/`ẞ` → `ss` and final
//!   `ς` → `σ`), zero-width, bidi-control and variation-selector characters removed
//!   ([`is_ignorable`]), every run of Unicode whitespace collapsed to one ASCII space (not trimmed).
//! - `standard`: diacritics stripped and confusables mapped to their Latin skeleton.
//! - `strict`: leetspeak, separators inside words removed, repeated letters collapsed.
//!
//! # Pieces and the origin map
//!
//! The original is cut into *pieces*: a character plus the characters that can combine with it
//! under NFKC (`continues_cluster`: combining marks, Hangul medial/final jamo and the few
//! letters whose compatibility decomposition starts with one, like halfwidth `ﾞ` or `ㅏ`).
//! Ignorable characters are skipped and are transparent: `e` + ZWSP + U+0301 is one piece, `é`.
//! A piece is normalized on its own (NFKC never combines across such a boundary), and every
//! output byte records the original byte range of its piece. Removed characters produce no
//! output; a whitespace run's single space maps to the whole run; a collapsed letter run maps to
//! the whole run. [`Normalized::original_span`] takes the start of the first byte's origin and
//! the end of the last one's, so a span also covers whatever was dropped inside it. Origins are
//! char boundaries of the original and never decrease along the normalized text.
//!
//! # Confusables (`standard`)
//!
//! A piece whose base character (first char of its canonical decomposition) is ASCII is kept as
//! that base and its combining marks are dropped (`é` → `e`, Zalgo text → plain). Otherwise the
//! base is looked up in `decancer`'s confusable tables ([`decancer::cure_char`]), with every
//! non-Latin script retained except Greek and Cyrillic (Hebrew, Arabic, Indic, Thai, CJK, Korean,
//! Braille ... stay as they are). A mapping is accepted only when it is all ASCII and keeps the
//! kind of character: a letter must map to ASCII letters (`а` → `a`, `ø` → `o`, `æ` → `ae`,
//! `ᴀ` → `a`, `🅰` → `a`), a number to ASCII digits. Letter → digit mappings (`б` → `6`) are
//! refused (digits → letters is `strict`'s leetspeak), and symbols and emoji are never mapped
//! (`©`, `€`, `∀` stay). When the base is mapped the piece's marks go with it; when it is kept the
//! whole piece is kept, marks included (`が`, `हि`). Note that decancer maps whole Greek and
//! Cyrillic alphabets, not only look-alikes: `привет` → `npnbet`. That is consistent for keywords
//! (they go through the same map) but Cyrillic/Greek word lists belong at `basic`.
//!
//! # Strict
//!
//! Applied to the `standard` text, in this order:
//!
//! 1. Leetspeak: `0→o 1→i 3→e 4→a 5→s 7→t @→a $→s`, and emoji and symbol letters (`©→c
//!    ®→r ✝→t †→t 💲→s ⭕→o ❌→x ✖→x ❗→i ❕→i`; a keycap digit is already its digit at
//!    `standard`, so `1️⃣` is `i`), everywhere (so `$hit` is a word), except that `@` and `$` stay
//!    symbols in a token (a run without whitespace) with no other word character: a grawlix
//!    (`@#$%!`) is not the word `as`. The marks after an emoji letter go, as `standard` drops a
//!    letter's marks.
//! 2. The text is cut into *words* (runs of word characters, [`is_word_char`]) and *gaps* (runs
//!    of anything else; a combining character belongs to the run of the character it follows).
//!    A gap without a space between two words is removed: `f-r_e*e`, `fr.ee`, `don't`. A gap
//!    at either end of the text is kept (`free!`). An apostrophe removed between two words, one
//!    of them longer than a letter (`don't`, `who're`, `Ashlee's`), is recorded: it is a word
//!    boundary, no keyword hit may cross it ([`Normalized::apostrophe_inside`]; a keyword written
//!    with an apostrophe may), and it is not a removed symbol (so `Ashlee's` → `ashles` is no
//!    censored `assholes`).
//! 3. Words joined by step 2 that are one letter once repeats collapse (`f`, `ee`) are *single*.
//!    Where at least three singles follow each other, the gaps between them are removed
//!    (`f r e e m o n e y`, `f. r. e. e`, `get f r e e stuff` → `get free stuff`); two singles
//!    (`a b`) and ordinary words (`a cat`, `free money`) keep their spaces.
//! 4. Runs of the same letter (an alphabetic, non-combining character) collapse to one:
//!    `freeeee` → `fre`, `free` → `fre`, `fuuuuck` → `fuck`.
//!
//! Every level is idempotent: normalizing normalized text again changes nothing (tested).
//!
//! # Soft boundaries (`strict`)
//!
//! A spelled-out word keeps its own word boundaries: wherever at least two words of one letter
//! (once repeats collapse, as in step 3) follow each other joined by removed gaps, spaced or not
//! (`f u c k`, `f.r.e.e`, `f-r_e*e`), strict records a *soft boundary*
//! ([`Normalized::is_soft_boundary`]) at the start and the end of the run, so the joined word is a
//! word even where it meets a longer one (`f.u.c.k.ing`). Inside the run there is one more, only
//! after a first letter that is the word `a` or `i`: joining can glue such a real one-letter word
//! to the next (`what a c u n t` → `what acunt`, `I s h i t you not` → `ishit you not`).
//! Word, prefix and suffix modes accept a soft boundary as a word boundary. Consequences:
//!
//! - `a c u n t` holds the word `cunt`; `a s s h o l e` → `ashole` still holds `asshole`.
//! - `S-C-U-N-T-H-O-R-P-E` holds no `cunt`, `c.a.s.i.n.o.s` no `casino`, `c l a s s` no `as`,
//!   and `f u c k i n g` no `fuck` (but the word `fucking`, as typed plainly); `f.u.c.k.ing`
//!   holds `fuck` (the run's end meets `ing`).
//! - Words written normally (`Scunthorpe`, `assessment`, `cocktail`) have none, nor do gaps
//!   removed between a longer word and a lone one-letter word (`fr.ee`, `don't`).
//!
//! `except` phrases and keyword normalization ([`normalize_keyword`]) do not use them.
//!
//! # Masked words (`strict`)
//!
//! Words joined across mask symbols (`* # @ $ % ! ? - + . | ( ^`) are recorded with their *shape*
//! ([`MaskedWord`], [`Normalized::masked_words`]): the `standard` characters, leetspeak undone,
//! each inner mask symbol written `?` (`f**k` → `f??k`, `b***h`, `c##t`, `sh!t`; a single word
//! with `@` or `$` inside: `f$$k`), except the *letter symbols* `|` (`i` or `l`), `(` (`c`) and
//! `^` (`a`), which stay as they are and stand for their letter only (`d|(k`, `ret^rd`). Letter
//! symbols and `+` (`t`) written right at a word's edge belong to it too (`(unt`, `^sshole`,
//! `slu+`, `ki||`, and `!` before another: `sh!+`). Its first and last characters must be
//! letters or such edge symbols, so a fully starred word (`f***`, `s***`) and a grawlix are none;
//! nor is a spelled-out word (one-letter words with one symbol between each: `f.u.c.k`) without
//! edge symbols. The matcher lets a shape stand for a keyword of the same length with the same
//! visible letters (`v` may be `u`), unless its letters without the edge symbols are a common word
//! and nothing was removed inside (`(rap` is no `crap`). Only looked for when strict removed a
//! symbol, the text holds `@` or `$`, or a letter stands beside one of `( ^ | +`.
//!
//! # Compounds (`strict`)
//!
//! When the original holds a hashtag or handle, an underscore, an upper-case letter after a
//! lower-case one, or a letter beside a digit (one pass over the bytes; otherwise nothing more is
//! done), strict records word boundaries inside words ([`Normalized::is_boundary`]): camel case
//! (`Shit|Show`), an underscore between words of two letters or more (`bitch|face`, not
//! `f_u_c_k`), a letter beside a number that is not leetspeak (two digits or more, a `2 6 8 9`, or
//! one digit between words of three letters or more: `fuck|2025`, `bitch|4life`, not `sh1t`),
//! both sides of a letter whose collapsed run hides one of these (`Pussy|You` → `pusyou`), and
//! where a hashtag's or handle's word starts (`@bitch_face` → `a|bitchface`). It also records
//! the word part of each hashtag and handle ([`Normalized::compound_around`]): inside it, a
//! glued lower-case run is segmented by `compounds.rs`.
//!
//! # Speed
//!
//! ASCII bytes followed by ASCII take a byte path with no decoding; buffers live in
//! [`Normalized`] and are reused, nothing is allocated per character. Non-ASCII pieces that are
//! already NFKC and lowercase skip the normalization iterators.

// Crafted input must never panic here: no unwrap, expect or indexing on the text path.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::iter;

use decancer::{Options, Translation};
use serde::Deserialize;
use unicode_normalization::char::{decompose_canonical, decompose_compatible, is_combining_mark};
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

/// How much a rule's text (and its keywords) is normalized before matching.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The text as sent.
    None,
    /// NFKC, case folding, invisible characters removed, whitespace collapsed.
    Basic,
    /// `basic`, look-alike letters mapped to Latin, diacritics stripped.
    #[default]
    Standard,
    /// `standard`, leetspeak, separators inside words, repeated letters collapsed.
    Strict,
}

impl Level {
    /// Every level, from the least to the most folding.
    pub const ALL: [Level; 4] = [Level::None, Level::Basic, Level::Standard, Level::Strict];

    /// The name in rule files.
    pub fn name(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Basic => "basic",
            Level::Standard => "standard",
            Level::Strict => "strict",
        }
    }
}

/// A byte range `[start, end)` of the original text.
type Origin = (u32, u32);

/// How a normalized text maps back to its original.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Origins {
    /// `origin` holds the map.
    #[default]
    Built,
    /// Byte `i` of the text came from byte `i` of the original (`none`, and ASCII text with
    /// single spaces at `basic` and `standard`): no map needed.
    Identity,
    /// Left out by [`Normalized::normalize_text_into`], until [`Normalized::add_origins`].
    Missing,
}

/// A normalized string and, for each of its bytes, the byte range of the original it came from.
#[derive(Debug, Default, Clone)]
pub struct Normalized {
    text: String,
    origin: Vec<Origin>,
    /// How `text` maps back to the original.
    origins: Origins,
    original_len: u32,
    /// Strict's soft boundaries: sorted normalized byte offsets (module doc). Usually empty.
    soft: Vec<u32>,
    /// Where strict removed punctuation inside a word (`f*ck` → `fck`: offset 1): sorted
    /// normalized byte offsets. Usually empty.
    removed: Vec<u32>,
    /// Where strict removed an apostrophe inside a word (`who're` → `whore`: offset 3): a word
    /// boundary that no keyword hit may cross (module doc, "Apostrophes"). Usually empty.
    apostrophes: Vec<u32>,
    /// Words strict joined across mask symbols (`f**k`), with their shapes. Usually empty.
    masked: Vec<MaskedWord>,
    /// Word boundaries inside compounds (`Shit|Show`, `bitch|face`, `fuck|69`, after a hashtag's
    /// `#` or a handle's `@`): sorted normalized offsets. Usually empty.
    parts: Vec<u32>,
    /// The word parts of hashtags and handles, `[start, end)` in the normalized text, where a
    /// glued lower-case compound may be segmented (`compounds`). Usually empty.
    compounds: Vec<(u32, u32)>,
    scratch: Scratch,
}

/// A word `strict` joined across mask symbols inside it (`f**k`, `b***h`, `c##t`, `sh*t`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskedWord {
    /// Where it starts in the normalized text.
    pub start: usize,
    /// Where it ends in the normalized text.
    pub end: usize,
    /// Its characters in the `standard` text, leetspeak undone, each inner mask symbol (`* # @ $
    /// % ! ? - + .`) written `?`: `f??k`, `b???h`, `sh?t`.
    pub shape: String,
}

/// Buffers reused from one call to the next.
#[derive(Debug, Default, Clone)]
struct Scratch {
    piece: String,
    nfkc: String,
    folded: String,
    text: String,
    origin: Vec<Origin>,
    segments: Vec<Segment>,
    groups: Vec<Group>,
}

/// A run of word characters or of gap characters in the `standard` text (strict step 2).
#[derive(Debug, Clone, Copy)]
struct Segment {
    start: usize,
    end: usize,
    word: bool,
    space: bool,
    remove: bool,
    /// Non-combining characters once repeats collapse (words only).
    letters: u32,
    first: char,
    last: char,
    /// A gap that is one apostrophe between two words, one of them longer than a letter.
    apostrophe: bool,
    /// Where the segment starts and ends in the strict output (set by phase 4).
    out_start: u32,
    out_end: u32,
}

/// Words joined by removed gaps, up to segment `last`, with their letter count.
#[derive(Debug, Clone, Copy)]
struct Group {
    last: usize,
    letters: u32,
    last_char: char,
}

impl Normalized {
    /// An empty buffer, reusable with `normalize_into`.
    pub fn new() -> Self {
        Self::default()
    }

    /// The normalized text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Normalizes `original` at `level` into this value, reusing its buffers, with the origin
    /// map that [`Normalized::original_span`] reads.
    pub fn normalize_into(&mut self, level: Level, original: &str) {
        self.normalize_with(level, original, true);
    }

    /// The normalized text alone: the same text (and, at `strict`, the same soft boundaries,
    /// masked words and compounds) as [`Normalized::normalize_into`], without the origin map
    /// (except at `strict` for a message with compound cues, whose marking reads it). Most
    /// messages hit nothing, so the request path searches this text and builds the map only for
    /// a message that hit ([`Normalized::add_origins`]): about a third of `basic`'s cost on
    /// ASCII text.
    pub fn normalize_text_into(&mut self, level: Level, original: &str) {
        self.normalize_with(level, original, false);
    }

    /// Builds the origin map that [`Normalized::normalize_text_into`] left out, normalizing
    /// `original` again (the text comes out the same). `level` and `original` must be the ones
    /// the text was made from.
    pub fn add_origins(&mut self, level: Level, original: &str) {
        if self.origins == Origins::Missing {
            self.normalize_into(level, original);
        }
    }

    fn normalize_with(&mut self, level: Level, original: &str, origins: bool) {
        let original = within_u32(original);
        let cues = (level == Level::Strict).then(|| Cues::of(original));
        // Strict's compound boundaries are found through the origin map, so a message with
        // compound cues needs it even when the caller does not. Nothing else strict records
        // (soft boundaries, removed symbols, masked words) depends on it.
        let strict_needs_origins = cues.is_some_and(|cues| cues.compound);
        let wanted_origins = origins;
        let origins = origins || strict_needs_origins;
        self.text.clear();
        self.origin.clear();
        self.origins = if origins { Origins::Built } else { Origins::Missing };
        self.soft.clear();
        self.removed.clear();
        self.apostrophes.clear();
        self.masked.clear();
        self.parts.clear();
        self.compounds.clear();
        self.original_len = offset(original.len());
        // Most chat is ASCII, where basic and standard are lowercasing and whitespace collapsing:
        // one tight loop instead of the piece machinery (about half the time).
        let ascii = level != Level::None && original.is_ascii();
        match level {
            Level::None if !origins => {
                self.text.push_str(original);
                self.origins = Origins::Identity;
            }
            Level::None => self.copy(original),
            _ if ascii && !origins && lowercase_single_spaced(original, &mut self.text) => {
                self.origins = Origins::Identity;
            }
            _ if ascii => {
                // Whitespace runs (rare) take the loop that maps them, asked for a map or not.
                self.fold_ascii(original);
                self.origins = Origins::Built;
            }
            Level::Basic => self.fold(original, false, origins),
            Level::Standard | Level::Strict => self.fold(original, true, origins),
        }
        if let Some(cues) = cues {
            self.strict(cues.symbols);
            if cues.compound {
                self.mark_compounds(original);
            }
            // Strict moves bytes around: text that mapped to itself without a map no longer does.
            if self.origins == Origins::Identity {
                self.origins = Origins::Missing;
            }
        }
        debug_assert!(!wanted_origins || self.origins != Origins::Missing);
    }

    /// Whether byte `offset` of the normalized text is a word boundary that strict found inside
    /// a run of word characters: a soft boundary, an apostrophe strict removed (`who|re`), or a
    /// boundary inside a compound (`Shit|Show`, `bitch_|face`, `#|fuckthis`). Word, prefix and
    /// suffix modes accept it like a non-word character. Always false below `strict`.
    pub fn is_boundary(&self, offset: usize) -> bool {
        let Ok(o) = u32::try_from(offset) else { return false };
        let has = |list: &Vec<u32>| !list.is_empty() && list.binary_search(&o).is_ok();
        has(&self.soft) || has(&self.apostrophes) || has(&self.parts)
    }

    /// Whether strict removed an apostrophe strictly inside `[start, end)`: a keyword hit there
    /// would join two words (`who're` → `whore`), so it does not count, unless the keyword was
    /// written with an apostrophe itself.
    pub fn apostrophe_inside(&self, start: usize, end: usize) -> bool {
        let (Ok(start), Ok(end)) = (u32::try_from(start), u32::try_from(end)) else { return false };
        let first_after = self.apostrophes.partition_point(|&o| o <= start);
        self.apostrophes.get(first_after).is_some_and(|&o| o < end)
    }

    /// The words strict joined across mask symbols (`f**k`), in text order.
    pub fn masked_words(&self) -> &[MaskedWord] {
        &self.masked
    }

    /// When `[start, end)` lies inside the word part of a hashtag or handle: the run around it
    /// between the compound boundaries nearest to it (`fuckthis` in `#fuckthis_now`), as a
    /// normalized span. `None` elsewhere.
    pub fn compound_around(&self, start: usize, end: usize) -> Option<(usize, usize)> {
        let (s, e) = (u32::try_from(start).ok()?, u32::try_from(end).ok()?);
        let &(a, b) = self.compounds.iter().find(|&&(a, b)| a <= s && e <= b)?;
        let below = self.parts.partition_point(|&o| o <= s);
        let lo = below.checked_sub(1).and_then(|i| self.parts.get(i)).map_or(a, |&o| o.max(a));
        let hi = self.parts.get(self.parts.partition_point(|&o| o < e)).map_or(b, |&o| o.min(b));
        Some((lo as usize, hi as usize))
    }

    /// Whether byte `offset` of the normalized text is a soft boundary: the start or end of a run
    /// of one-letter words that `strict` joined, or a place inside it where one such word ended
    /// and the next began (module doc, "Soft boundaries"). Always false below `strict`.
    pub fn is_soft_boundary(&self, offset: usize) -> bool {
        !self.soft.is_empty() && u32::try_from(offset).is_ok_and(|o| self.soft.binary_search(&o).is_ok())
    }

    /// Whether strict removed punctuation strictly inside the normalized span `[start, end)`:
    /// what a censored keyword variant (`fck` for `fuck`) needs to count as a hit, so `f*ck`
    /// matches and a plain `fck` (or `cnt`, "can't") does not. Always false below `strict`.
    pub fn removed_inside(&self, start: usize, end: usize) -> bool {
        let (Ok(start), Ok(end)) = (u32::try_from(start), u32::try_from(end)) else { return false };
        let first_after = self.removed.partition_point(|&o| o <= start);
        self.removed.get(first_after).is_some_and(|&o| o < end)
    }

    /// Maps a byte span `[start, end)` of the normalized text (on char boundaries, start < end)
    /// to the byte span of the original text it came from. The result lies on char boundaries
    /// of the original and within it, whatever the arguments. Needs the origin map:
    /// `normalize_into`, or `normalize_text_into` then `add_origins`.
    pub fn original_span(&self, start: usize, end: usize) -> (usize, usize) {
        debug_assert!(self.origins != Origins::Missing, "original_span without an origin map");
        let len = self.original_len as usize;
        if self.origins == Origins::Identity {
            let start = start.min(len);
            return (start, end.clamp(start, len));
        }
        let Some(&(first, _)) = self.origin.get(start) else {
            return (len, len);
        };
        let last = end.checked_sub(1).and_then(|e| self.origin.get(e)).map_or(first, |o| o.1);
        let first = (first as usize).min(len);
        (first, (last as usize).clamp(first, len))
    }

    /// `none`: the text as sent; each byte maps to its character.
    fn copy(&mut self, original: &str) {
        self.text.push_str(original);
        let mut i = 0;
        while let Some(c) = char_at(original, i) {
            let len = c.len_utf8();
            self.origin.extend(iter::repeat_n((offset(i), offset(i + len)), len));
            i += len;
        }
    }

    /// `basic` and `standard` of an ASCII string: exactly what `fold` gives it (a test checks).
    /// Written out rather than through `Sink::push_ascii`, which does the same per byte: this
    /// loop keeps the space state in a register, and going through `Sink` measured 10–15 %
    /// slower on whole decisions (`inflight bench`, 5k pack: p50 1.31 → 1.50 µs).
    fn fold_ascii(&mut self, original: &str) {
        self.text.reserve(original.len());
        self.origin.reserve(original.len());
        let mut in_space = false;
        for (i, &b) in original.as_bytes().iter().enumerate() {
            let from = (offset(i), offset(i + 1));
            if is_ascii_space(b) {
                if in_space {
                    if let Some(last) = self.origin.last_mut() {
                        last.1 = from.1;
                    }
                    continue;
                }
                in_space = true;
                self.text.push(' ');
            } else {
                in_space = false;
                self.text.push(char::from(b.to_ascii_lowercase()));
            }
            self.origin.push(from);
        }
    }

    /// `basic` (and with `skeleton`, `standard`): piece by piece into `text`/`origin`.
    fn fold(&mut self, original: &str, skeleton: bool, origins: bool) {
        let Scratch { piece, nfkc, folded, .. } = &mut self.scratch;
        let mut out = Emitter {
            sink: Sink { text: &mut self.text, origin: &mut self.origin, origins, in_space: false },
            skeleton,
            drop_marks: true,
        };
        let bytes = original.as_bytes();
        // The piece being gathered (its text is in `piece`) and its original range.
        let mut pending: Option<Origin> = None;
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            // Fast path: an ASCII byte not followed by a possible combining character.
            if b.is_ascii() && bytes.get(i + 1).is_none_or(u8::is_ascii) {
                if let Some(from) = pending.take() {
                    out.piece(piece, from, nfkc, folded);
                }
                out.drop_marks = true;
                out.sink.push_ascii(b, (offset(i), offset(i + 1)));
                i += 1;
                continue;
            }
            let Some(c) = original.get(i..).and_then(|rest| rest.chars().next()) else {
                break;
            };
            let end = i + c.len_utf8();
            if !is_ignorable(c) {
                match pending.as_mut() {
                    Some(from) if continues_cluster(c) => {
                        piece.push(c);
                        from.1 = offset(end);
                    }
                    _ => {
                        if let Some(from) = pending.take() {
                            out.piece(piece, from, nfkc, folded);
                        }
                        piece.clear();
                        piece.push(c);
                        pending = Some((offset(i), offset(end)));
                    }
                }
            }
            i = end;
        }
        if let Some(from) = pending {
            out.piece(piece, from, nfkc, folded);
        }
    }

    /// `strict`, on top of the `standard` text: leetspeak, separators, repeats (module doc), in
    /// four phases over the words and gaps of the text.
    fn strict(&mut self, symbols: bool) {
        let Scratch { text: out_text, origin: out_origin, segments, groups, .. } = &mut self.scratch;
        let text = self.text.as_str();
        split_words_and_gaps(text, segments);
        remove_gaps_inside_words(text, segments);
        remove_gaps_between_spelled_letters(segments, groups);
        let mut out = StrictOutput {
            text: out_text,
            origin: out_origin,
            soft: &mut self.soft,
            removed: &mut self.removed,
            apostrophes: &mut self.apostrophes,
        };
        out.emit(text, self.origin.as_slice(), segments);
        if !self.removed.is_empty() || symbols {
            find_masked(text, segments, &mut self.masked);
        }
        std::mem::swap(&mut self.text, out_text);
        std::mem::swap(&mut self.origin, out_origin);
    }
}

impl Normalized {
    /// Strict, when `original` has compound cues: the word boundaries inside compounds (camel
    /// case, snake case, letters beside a number) and the word parts of hashtags and handles
    /// (module doc, "Compounds").
    fn mark_compounds(&mut self, original: &str) {
        // Whether the previous character is a word character, decided once per character.
        let mut prev_is_word = false;
        for (p, c) in self.text.char_indices() {
            let is_word = is_word_char(c);
            let boundary = prev_is_word
                && is_word
                && p.checked_sub(1)
                    .and_then(|q| self.origin.get(q))
                    .zip(self.origin.get(p))
                    .is_some_and(|(before, here)| compound_boundary(original, before.1 as usize, here.0 as usize));
            if boundary {
                self.parts.push(offset(p));
            }
            // A boundary inside a collapsed letter (`PussyYou` → `pusyou`, `asshole_everyone` →
            // `asholeveryone`): both sides of the letter, so either word can end or start there.
            // Only an origin longer than the character can hold a collapsed run.
            let collapsed = self
                .origin
                .get(p)
                .filter(|o| o.1.saturating_sub(o.0) as usize > c.len_utf8())
                .and_then(|o| original.get(o.0 as usize..o.1 as usize));
            if collapsed.is_some_and(|run| run.chars().count() > 1 && has_inner_compound_cue(run)) {
                self.parts.push(offset(p));
                self.parts.push(offset(p + c.len_utf8()));
            }
            prev_is_word = is_word;
        }
        self.mark_hashtags(original);
        self.parts.sort_unstable();
        self.parts.dedup();
    }

    /// A hashtag's or handle's word part (after `#` or `@` at the start of a token), and a
    /// boundary where it starts when the sigil itself became a letter (`@` → `a`).
    fn mark_hashtags(&mut self, original: &str) {
        for (h, _) in original.char_indices().filter(|&(_, c)| c == '#' || c == '@') {
            let token_start = original.get(..h).and_then(|s| s.chars().next_back()).is_none_or(char::is_whitespace);
            let followed = original.get(h + 1..).and_then(|s| s.chars().next()).is_some_and(char::is_alphanumeric);
            if !token_start || !followed {
                continue;
            }
            // The first normalized byte standing for something after the sigil.
            let start = self.origin.partition_point(|o| o.1 as usize <= h + 1);
            let Some(rest) = self.text.get(start..) else { continue };
            let len = rest.char_indices().find(|&(_, c)| !is_word_char(c)).map_or(rest.len(), |(i, _)| i);
            if len == 0 {
                continue;
            }
            if self.text.get(..start).and_then(|s| s.chars().next_back()).is_some_and(is_word_char) {
                self.parts.push(offset(start));
            }
            self.compounds.push((offset(start), offset(start + len)));
        }
    }
}

/// Whether the original run behind one collapsed letter holds a compound cue: lower then upper
/// case (`yY`) or an underscore (`e_e`).
fn has_inner_compound_cue(run: &str) -> bool {
    run.contains('_')
        || run.as_bytes().windows(2).any(|w| matches!(w, [a, b] if a.is_ascii_lowercase() && b.is_ascii_uppercase()))
}

/// Whether a compound boundary lies between two word characters of the strict text whose
/// originals end at `before_end` and start at `start`: lower then upper case (`shitShow`), an
/// underscore between two words of two letters or more (`bitch_face`, not `f_u_c_k`), or a
/// letter beside a number that is not leetspeak (two digits or more, or a 2, 6, 8 or 9:
/// `fuck2025`, not `b1tch`).
fn compound_boundary(original: &str, before_end: usize, start: usize) -> bool {
    // Called for every two adjacent word characters, and nearly always false: look at the bytes
    // around the join first. Every boundary with nothing between is between two ASCII characters
    // (lower then upper case, or a letter beside a digit; a byte of a non-ASCII character is
    // never ASCII), and every other one has an underscore first.
    let bytes = original.as_bytes();
    if before_end == start {
        let (Some(&a), Some(&b)) = (before_end.checked_sub(1).and_then(|i| bytes.get(i)), bytes.get(start)) else {
            return false;
        };
        let letter_beside_digit =
            (a.is_ascii_alphabetic() && b.is_ascii_digit()) || (a.is_ascii_digit() && b.is_ascii_alphabetic());
        let camel_case = a.is_ascii_lowercase() && b.is_ascii_uppercase();
        if !(letter_beside_digit || camel_case) {
            return false;
        }
    } else if bytes.get(before_end) != Some(&b'_') {
        return false;
    }
    let (Some(head), Some(tail), Some(between)) =
        (original.get(..before_end), original.get(start..), original.get(before_end..start))
    else {
        return false;
    };
    let (Some(a), Some(b)) = (head.chars().next_back(), tail.chars().next()) else { return false };
    if between.is_empty() {
        // A number, not leetspeak: two digits or more, a digit leetspeak leaves alone, or one
        // digit between two words of three letters or more (`bitch4life`, not `sh1t`).
        let letters = |chars: &mut dyn Iterator<Item = char>| chars.take_while(char::is_ascii_alphabetic).count();
        // Iterators, not strings: the boundary may sit anywhere in a long text, and copying the
        // text before it (to walk it backwards) made a 64 KB message quadratic.
        let lone_digit_between_words = |digit_side: &mut dyn Iterator<Item = char>,
                                        other: &mut dyn Iterator<Item = char>| {
            let _digit = digit_side.next();
            letters(other) >= 3 && letters(digit_side) >= 3
        };
        let number = |digits: &mut dyn Iterator<Item = char>| {
            let run: Vec<char> = digits.take_while(char::is_ascii_digit).collect();
            run.len() >= 2 || run.iter().any(|d| matches!(d, '2' | '6' | '8' | '9'))
        };
        if a.is_ascii_alphabetic()
            && b.is_ascii_digit()
            && lone_digit_between_words(&mut tail.chars(), &mut head.chars().rev())
        {
            return true;
        }
        if a.is_ascii_digit()
            && b.is_ascii_alphabetic()
            && lone_digit_between_words(&mut head.chars().rev(), &mut tail.chars())
        {
            return true;
        }
        return (a.is_ascii_lowercase() && b.is_ascii_uppercase())
            || (a.is_ascii_alphabetic() && b.is_ascii_digit() && number(&mut tail.chars()))
            || (a.is_ascii_digit() && b.is_ascii_alphabetic() && number(&mut head.chars().rev()));
    }
    let word_len = |chars: &mut dyn Iterator<Item = char>| chars.take_while(|c| c.is_alphanumeric()).count();
    between.bytes().all(|c| c == b'_') && word_len(&mut head.chars().rev()) >= 2 && word_len(&mut tail.chars()) >= 2
}

/// Strict phase 1: the words and gaps of `text`, judged after leetspeak; combining characters
/// join the run before them.
fn split_words_and_gaps(text: &str, segments: &mut Vec<Segment>) {
    segments.clear();
    let bytes = text.as_bytes();
    // The segment being built. It stays out of `segments` until the next one starts, so the
    // per-character updates stay in registers instead of going through the vector.
    let mut current: Option<Segment> = None;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let start = i;
        // An ASCII byte is its own character and never combining: no decoding, no table lookup.
        let (raw, combining) = if b.is_ascii() {
            (char::from(b), false)
        } else {
            let Some(raw) = char_at(text, i) else { break };
            (raw, continues_cluster(raw))
        };
        let end = i + raw.len_utf8();
        i = end;
        if combining && let Some(last) = current.as_mut() {
            last.end = end;
            last.last = raw;
            continue;
        }
        let c = strict_char(text, start, raw);
        let word = is_word_char(c);
        match current.as_mut() {
            Some(last) if last.word == word => {
                last.end = end;
                last.space |= c == ' ';
                last.letters = last.letters.saturating_add(u32::from(!collapses(last.last, c)));
                last.last = c;
            }
            _ => {
                let next = Segment {
                    start,
                    end,
                    word,
                    space: c == ' ',
                    remove: false,
                    letters: u32::from(!combining),
                    first: c,
                    last: c,
                    apostrophe: false,
                    out_start: 0,
                    out_end: 0,
                };
                segments.extend(current.replace(next));
            }
        }
    }
    segments.extend(current);
}

/// A character of the `standard` text as strict reads it: leetspeak and emoji letters undone,
/// except that `@` and `$` stay symbols in a token (a run without whitespace) that has no
/// word character of its own, so a grawlix (`@#$%!`) does not become a word (`as`).
fn strict_char(text: &str, at: usize, raw: char) -> char {
    match raw {
        '@' | '$' if !token_has_word_char(text, at) => raw,
        _ => leet(raw),
    }
}

/// Whether the whitespace-delimited token around byte `at` holds a word character other than
/// `@` and `$` (which are not word characters before leetspeak).
fn token_has_word_char(text: &str, at: usize) -> bool {
    let before = text.get(..at).unwrap_or("").chars().rev().take_while(|c| !c.is_whitespace());
    let after = text.get(at..).unwrap_or("").chars().take_while(|c| !c.is_whitespace());
    before.chain(after).any(|c| is_word_char(leet(c)) && c != '@' && c != '$')
}

/// Strict phase 2: words and gaps alternate, so a gap strictly inside the list sits between
/// two words: remove it when it holds no space (`f.r-e_e`).
/// An apostrophe between two words is removed too (`don't` → `dont`) but remembered when one of
/// the words is longer than a letter, so a keyword hit cannot cross it (`who're`).
fn remove_gaps_inside_words(text: &str, segments: &mut [Segment]) {
    let inner = 1..segments.len().saturating_sub(1);
    for segment in segments.get_mut(inner.clone()).into_iter().flatten() {
        segment.remove |= !segment.word && !segment.space;
        segment.apostrophe = segment.remove && text.get(segment.start..segment.end).is_some_and(is_apostrophe);
    }
    for k in inner {
        if !segments.get(k).is_some_and(|gap| gap.apostrophe) {
            continue;
        }
        let longer = |j: usize| segments.get(j).is_some_and(|w| w.letters >= 2);
        let beside_longer_word = longer(k - 1) || longer(k + 1);
        if let Some(gap) = segments.get_mut(k) {
            gap.apostrophe = beside_longer_word;
        }
    }
}

/// One apostrophe-like character: `'`, `’`, `‘`, `ʼ`, `´` or a backtick.
fn is_apostrophe(gap: &str) -> bool {
    matches!(gap, "'" | "\u{2019}" | "\u{2018}" | "\u{02BC}" | "\u{00B4}" | "`")
}

/// Strict phase 3: group the words phase 2 joined, counting their letters once repeats
/// collapse; where three or more one-letter groups follow each other (`f r e e`), remove the
/// spaced gaps between them too.
fn remove_gaps_between_spelled_letters(segments: &mut [Segment], groups: &mut Vec<Group>) {
    groups.clear();
    let mut after_removed_gap = false;
    for (k, segment) in segments.iter().enumerate() {
        if !segment.word {
            after_removed_gap = segment.remove;
            continue;
        }
        match groups.last_mut() {
            Some(group) if after_removed_gap => {
                group.last = k;
                let repeat = u32::from(collapses(group.last_char, segment.first));
                group.letters = group.letters.saturating_add(segment.letters.saturating_sub(repeat));
                group.last_char = segment.last;
            }
            _ => groups.push(Group { last: k, letters: segment.letters, last_char: segment.last }),
        }
    }
    // `first_single`: the first group of the current run of one-letter groups.
    let mut first_single = 0;
    for k in 0..=groups.len() {
        if groups.get(k).is_some_and(|g| g.letters == 1) {
            continue;
        }
        if k - first_single >= 3 {
            for group in groups.get(first_single..k - 1).into_iter().flatten() {
                if let Some(gap) = segments.get_mut(group.last + 1) {
                    gap.remove = true;
                }
            }
        }
        first_single = k + 1;
    }
}

/// Where strict phase 4 writes: the strict text, its origins, and the soft boundaries and
/// removed-symbol positions it records.
struct StrictOutput<'a> {
    text: &'a mut String,
    origin: &'a mut Vec<Origin>,
    soft: &'a mut Vec<u32>,
    removed: &'a mut Vec<u32>,
    apostrophes: &'a mut Vec<u32>,
}

impl StrictOutput<'_> {
    /// Strict phase 4: emit what is kept, mapping leetspeak and collapsing repeated letters, and
    /// record the soft boundaries of runs of one-letter words joined by removed gaps. Removed
    /// gaps emit nothing, so a run ends at the output length when a kept gap or a longer word
    /// comes.
    fn emit(&mut self, text: &str, origin: &[Origin], segments: &mut [Segment]) {
        self.text.clear();
        self.origin.clear();
        let mut prev = ' ';
        let mut after_removed_gap = false;
        // One-letter words in the current run, where its first one starts in the output, and
        // whether that first one is the word `a` or `i`.
        let mut run_len = 0u32;
        let mut run_output_start = 0u32;
        let mut run_first_is_word = false;
        for segment in segments.iter_mut() {
            let here = offset(self.text.len());
            segment.out_start = here;
            segment.out_end = here;
            if !segment.word {
                after_removed_gap = segment.remove;
                if segment.remove {
                    if segment.apostrophe {
                        push_soft(self.apostrophes, here);
                    } else if !segment.space {
                        push_soft(self.removed, here);
                    }
                    continue;
                }
                end_run(self.soft, &mut run_len, here);
            } else if segment.letters == 1 && after_removed_gap && run_len > 0 {
                // A spelled-out word keeps its own boundaries (`S-C-U-N-T-H-O-R-P-E` holds no
                // `cunt`), except after a leading one-letter word (`what a c u n t`).
                if run_len == 1 {
                    push_soft(self.soft, run_output_start);
                    if run_first_is_word {
                        push_soft(self.soft, here);
                    }
                }
                run_len += 1;
            } else {
                end_run(self.soft, &mut run_len, here);
                if segment.letters == 1 {
                    run_len = 1;
                    run_output_start = here;
                    run_first_is_word = matches!(segment.first, 'a' | 'i');
                }
            }
            self.emit_word_or_gap(text, origin, segment, &mut prev);
            segment.out_end = offset(self.text.len());
        }
        end_run(self.soft, &mut run_len, offset(self.text.len()));
    }

    /// One kept segment, leetspeak mapped and a letter repeating `prev` folded into it.
    fn emit_word_or_gap(&mut self, text: &str, origin: &[Origin], segment: &Segment, prev: &mut char) {
        let mut at = segment.start;
        // After an emoji letter, its combining marks go (as `standard` drops a letter's marks).
        let mut after_emoji_letter = false;
        while at < segment.end {
            let Some(&b) = text.as_bytes().get(at) else { break };
            if b.is_ascii() {
                // The common case, written out for ASCII: leetspeak maps it to ASCII, nothing
                // combines with it, and a repeat extends the previous byte's origin.
                let c = char::from(if segment.word { leet_ascii(b) } else { b });
                after_emoji_letter = false;
                let from = origin.get(at).copied();
                if *prev == c && c.is_ascii_alphabetic() {
                    if let (Some(last), Some(from)) = (self.origin.last_mut(), from) {
                        last.1 = last.1.max(from.1);
                    }
                } else {
                    self.text.push(c);
                    self.origin.extend(from);
                    *prev = c;
                }
                at += 1;
                continue;
            }
            let Some(raw) = char_at(text, at) else { break };
            let len = raw.len_utf8();
            // Only a word maps leetspeak and emoji letters (a gap's `@` and `$` stay symbols).
            let c = if segment.word { leet(raw) } else { raw };
            if after_emoji_letter && !raw.is_ascii() && continues_cluster(raw) {
                let end = origin.get(at + len - 1).map_or(0, |o| o.1);
                if let Some(last) = self.origin.last_mut() {
                    last.1 = last.1.max(end);
                }
                at += len;
                continue;
            }
            after_emoji_letter = c != raw && !raw.is_ascii();
            if collapses(*prev, c) {
                let end = origin.get(at + len - 1).map_or(0, |o| o.1);
                let kept = self.origin.len().saturating_sub(prev.len_utf8());
                for o in self.origin.get_mut(kept..).into_iter().flatten() {
                    o.1 = o.1.max(end);
                }
            } else {
                self.text.push(c);
                if let (1, Some(&o)) = (len, origin.get(at)) {
                    self.origin.push(o);
                } else if c.len_utf8() == len {
                    self.origin.extend_from_slice(origin.get(at..at + len).unwrap_or(&[]));
                } else {
                    // An emoji letter (`©` → `c`): one byte standing for the whole character.
                    let first = origin.get(at).map_or((0, 0), |o| *o);
                    let last = origin.get(at + len - 1).map_or(first, |o| *o);
                    self.origin.push((first.0, last.1));
                }
                *prev = c;
            }
            at += len;
        }
    }
}

/// Appends a soft boundary; offsets arrive in order, a repeat (a collapsed letter) is skipped.
fn push_soft(soft: &mut Vec<u32>, at: u32) {
    if soft.last() != Some(&at) {
        soft.push(at);
    }
}

/// Closes the current run of one-letter words at `at`: a run of two or more ends with a soft
/// boundary (its inner ones are already recorded).
fn end_run(soft: &mut Vec<u32>, run_len: &mut u32, at: u32) {
    if *run_len >= 2 {
        push_soft(soft, at);
    }
    *run_len = 0;
}

/// `basic` and `standard` of ASCII text whose whitespace is single spaces (most messages): the
/// text copied and lowercased whole (vectorized), each byte where it was, so no origin map is
/// needed. Returns false, writing nothing, for other text, which `fold_ascii` takes.
fn lowercase_single_spaced(original: &str, text: &mut String) -> bool {
    let bytes = original.as_bytes();
    // A whitespace byte other than a space, or two spaces in a row. No `any`: a fold without an
    // early exit vectorizes.
    let pairs = bytes.iter().zip(bytes.iter().skip(1));
    let double_space = pairs.fold(false, |seen, (&a, &b)| seen | ((a == b' ') & (b == b' ')));
    let other_space = bytes.iter().fold(false, |seen, &b| seen | ((b'\t'..=b'\r').contains(&b)));
    if double_space || other_space {
        return false;
    }
    let start = text.len();
    text.push_str(original);
    if let Some(copied) = text.get_mut(start..) {
        copied.make_ascii_lowercase();
    }
    true
}

/// ASCII whitespace as Unicode counts it (`char::is_whitespace`): space, tab, line feed, vertical
/// tab, form feed, carriage return.
fn is_ascii_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Strict phase 5 (only when phase 2 removed a symbol): the words joined across mask symbols.
/// A group of words joined by removed gaps without a space is masked when every gap is mask
/// symbols only, its first and last characters are letters, and it is not a spelled-out word
/// (one-letter words, one symbol between each: `f.u.c.k`, which strict already joins). A single
/// word is masked when `@` or `$` stand inside it (`f$$k`, read by leetspeak as `fssk`).
fn find_masked(text: &str, segments: &[Segment], masked: &mut Vec<MaskedWord>) {
    let mut k = 0;
    while k < segments.len() {
        let mut last = k;
        if segments.get(k).is_some_and(|s| s.word) {
            while segments.get(last + 1).is_some_and(|g| g.remove && !g.space && !g.apostrophe)
                && segments.get(last + 2).is_some_and(|w| w.word)
            {
                last += 2;
            }
            let edges = letter_symbols_beside(text, segments, k, last);
            if let Some(group) = segments.get(k..=last)
                && let Some(word) = masked_word(text, group, edges)
            {
                masked.push(word);
            }
        }
        k = last + 1;
    }
}

/// The edge-letter symbols (`is_edge_letter_symbol`) written right before segment `first` and
/// right after segment `last` (kept gaps, so the same bytes in the strict text): `(unt` → (1,
/// 0), `slu+` → (0, 1), `ki||` → (0, 2).
fn letter_symbols_beside(text: &str, segments: &[Segment], first: usize, last: usize) -> Edges {
    let gap = |i: Option<usize>| i.and_then(|i| segments.get(i)).filter(|g| !g.word && !g.remove);
    let gap_text = |g: &Segment| text.get(g.start..g.end).unwrap_or("");
    let before = gap(first.checked_sub(1))
        .map_or(0, |g| gap_text(g).chars().rev().take_while(|&c| is_edge_letter_symbol(c)).count());
    // After a word, `!` stands for `i` only before another such symbol (`sh!+`); alone or
    // last it is an exclamation mark (`slut!`, `wow!!`).
    let after = gap(Some(last + 1)).map_or(0, |g| {
        let run: Vec<char> = gap_text(g).chars().take_while(|&c| is_edge_letter_symbol(c) || c == '!').collect();
        run.iter().rposition(|&c| c != '!').map_or(0, |i| i + 1)
    });
    Edges { before, after }
}

/// How many edge-letter symbols stand before and after a masked word (ASCII, one byte each).
#[derive(Debug, Clone, Copy, Default)]
struct Edges {
    before: usize,
    after: usize,
}

/// Longest masked word looked at, in characters.
const MASKED_MAX_CHARS: usize = 32;

/// The masked word a group of segments (word, gap, word, ...) spells, if it is one, with
/// `edges` symbols standing for letters before and after it.
fn masked_word(text: &str, group: &[Segment], edges: Edges) -> Option<MaskedWord> {
    let gaps = || group.iter().filter(|s| !s.word);
    let gap_text = |s: &Segment| text.get(s.start..s.end).unwrap_or("");
    let has_edges = edges.before + edges.after > 0;
    // A word alone is masked only by `@` or `$` inside it (`f$$k`), which leetspeak read as
    // letters, or by symbols standing for letters at its edges (`(unt`, `slu+`).
    if let [word] = group {
        let inner = text.get(word.start..word.end).and_then(|w| w.get(1..w.len().saturating_sub(1)));
        if !inner.is_some_and(|w| w.contains(['@', '$'])) && !has_edges {
            return None;
        }
    }
    if !gaps().all(|g| gap_text(g).chars().all(is_mask_symbol)) {
        return None;
    }
    let spelled = group.iter().all(|s| if s.word { s.letters == 1 } else { gap_text(s).chars().count() == 1 });
    if spelled && !has_edges {
        return None;
    }
    let (first, last) = (group.first()?, group.last()?);
    let body = text.get(first.start.checked_sub(edges.before)?..last.end + edges.after)?;
    let count = body.chars().count();
    if count > MASKED_MAX_CHARS {
        return None;
    }
    let mut shape = String::with_capacity(count);
    for (i, c) in body.chars().enumerate() {
        let edge = i < edges.before || i + edges.after >= count;
        let inner = i > 0 && i + 1 < count;
        shape.push(if edge || is_letter_symbol(c) {
            c
        } else if inner && is_mask_symbol(c) {
            '?'
        } else {
            leet(c)
        });
    }
    let stands_for_letter = |c: Option<char>| c.is_some_and(|c| c.is_alphabetic() || is_edge_letter_symbol(c));
    let edges_fit = stands_for_letter(shape.chars().next()) && stands_for_letter(shape.chars().next_back());
    let start = (first.out_start as usize).checked_sub(edges.before)?;
    edges_fit.then_some(MaskedWord { start, end: last.out_end as usize + edges.after, shape })
}

/// A symbol that stands for a hidden letter in a masked word (`f**k`, `c##t`, `sh!t`), or for
/// one particular letter (`is_letter_symbol`).
fn is_mask_symbol(c: char) -> bool {
    matches!(c, '*' | '#' | '@' | '$' | '%' | '!' | '?' | '-' | '+' | '.') || is_letter_symbol(c)
}

/// A symbol written for one particular letter, kept as itself in a masked word's shape: `|` for
/// `i` or `l`, `(` for `c`, `^` for `a` (`d|(k`, `ret^rd`; `variants::masked_fits`).
const fn is_letter_symbol(c: char) -> bool {
    matches!(c, '|' | '(' | '^')
}

/// A symbol that may stand for a letter at a word's edge (`(unt`, `^sshole`, `slu+`, `ki||`):
/// the letter symbols and `+` for `t`. Inside a word `+` hides any letter, like `*`.
pub(crate) const fn is_edge_letter_symbol(c: char) -> bool {
    is_letter_symbol(c) || c == '+'
}

/// What strict's extra passes look for in the original, found in one pass over its bytes so
/// that messages without them pay next to nothing.
#[derive(Debug, Clone, Copy, Default)]
struct Cues {
    /// A compound strict should look inside: a hashtag or handle, an underscore, an upper-case
    /// letter after a lower-case one, or a letter beside a digit.
    compound: bool,
    /// An `@` or `$`, which may mask a letter inside a word (`f$$k`), or a letter beside one of
    /// `( ^ | +`, which may stand for a letter at a word's edge (`(unt`, `slu+`).
    symbols: bool,
}

impl Cues {
    /// One pass over the bytes, without a branch per byte: every byte of a message takes a
    /// different path through a `match`, and the mispredictions cost more than the tests (this
    /// loop was a fifth of strict on 100 bytes of ASCII). Bytes of non-ASCII characters are in
    /// no class.
    fn of(original: &str) -> Cues {
        let (mut compound, mut symbols) = (false, false);
        let mut prev = 0u8;
        for &b in original.as_bytes() {
            let (class, before) = (byte_class(b), byte_class(prev));
            let has = |class: u8, bits: u8| class & bits != 0;
            // `@` and `$` may mask a letter; `( ^ | +` beside a letter (or after `!`, as in
            // `sh!+`) may stand for one at a word's edge (`(unt`, `slu+`).
            symbols |= has(class, SIGIL_MASK)
                | (has(class, EDGE_SYMBOL) & has(before, LETTER | BANG))
                | (has(before, EDGE_SYMBOL) & has(class, LETTER));
            // A hashtag, handle or underscore; lower then upper case; a letter beside a digit.
            compound |= has(class, COMPOUND_MARK)
                | (has(before, LOWER) & has(class, UPPER))
                | (has(before, LETTER) & has(class, DIGIT))
                | (has(before, DIGIT) & has(class, LETTER));
            prev = b;
        }
        Cues { compound, symbols }
    }
}

// Byte classes for `Cues::of`.
const LETTER: u8 = 1;
const LOWER: u8 = 1 << 1;
const UPPER: u8 = 1 << 2;
const DIGIT: u8 = 1 << 3;
/// `( ^ | +` (`is_edge_letter_symbol`): may stand for a letter at a word's edge.
const EDGE_SYMBOL: u8 = 1 << 4;
const BANG: u8 = 1 << 5;
/// `@ $`: may mask a letter inside a word.
const SIGIL_MASK: u8 = 1 << 6;
/// `# _ @`: a hashtag, an underscore, a handle.
const COMPOUND_MARK: u8 = 1 << 7;

/// The classes of every byte, computed at compile time.
#[allow(clippy::indexing_slicing)] // `b < 128`, within the 256 entries.
static BYTE_CLASSES: [u8; 256] = {
    let mut classes = [0u8; 256];
    let mut b = 0u8;
    while b < 128 {
        let mut class = 0;
        if b.is_ascii_alphabetic() {
            class |= LETTER;
        }
        if b.is_ascii_lowercase() {
            class |= LOWER;
        }
        if b.is_ascii_uppercase() {
            class |= UPPER;
        }
        if b.is_ascii_digit() {
            class |= DIGIT;
        }
        if is_edge_letter_symbol(b as char) {
            class |= EDGE_SYMBOL;
        }
        if b == b'!' {
            class |= BANG;
        }
        if matches!(b, b'@' | b'$') {
            class |= SIGIL_MASK;
        }
        if matches!(b, b'#' | b'_' | b'@') {
            class |= COMPOUND_MARK;
        }
        classes[b as usize] = class;
        b += 1;
    }
    classes
};

fn byte_class(b: u8) -> u8 {
    BYTE_CLASSES.get(usize::from(b)).copied().unwrap_or(0)
}

/// Appends normalized text and its origins, collapsing whitespace runs to one space.
struct Sink<'a> {
    text: &'a mut String,
    origin: &'a mut Vec<Origin>,
    /// Whether to write `origin` at all (`Normalized::normalize_text_into` does not).
    origins: bool,
    /// The last thing pushed was a space (standing for a whitespace run).
    in_space: bool,
}

impl Sink<'_> {
    /// Pushes an ASCII byte, lowercased; whitespace becomes (or extends) a space.
    fn push_ascii(&mut self, b: u8, from: Origin) {
        if is_ascii_space(b) {
            self.space(from);
        } else {
            self.in_space = false;
            self.text.push(char::from(b.to_ascii_lowercase()));
            if self.origins {
                self.origin.push(from);
            }
        }
    }

    fn push(&mut self, c: char, from: Origin) {
        if c.is_ascii() {
            // `c` is ASCII, so the cast keeps its value.
            self.push_ascii(c as u8, from);
        } else if c.is_whitespace() {
            self.space(from);
        } else {
            self.in_space = false;
            self.text.push(c);
            if self.origins {
                self.origin.extend(iter::repeat_n(from, c.len_utf8()));
            }
        }
    }

    fn space(&mut self, from: Origin) {
        if self.in_space {
            if let Some(last) = self.origin.last_mut() {
                last.1 = last.1.max(from.1);
            }
        } else {
            self.in_space = true;
            self.text.push(' ');
            if self.origins {
                self.origin.push(from);
            }
        }
    }
}

/// Runs the per-character part of `basic`/`standard` on each piece.
struct Emitter<'a> {
    sink: Sink<'a>,
    skeleton: bool,
    /// `standard`: combining marks are dropped because their base was mapped to ASCII (or there
    /// is no base: a mark at the very start).
    drop_marks: bool,
}

impl Emitter<'_> {
    /// NFKC and case folding of one piece, then each resulting character.
    fn piece(&mut self, piece: &str, from: Origin, nfkc: &mut String, folded: &mut String) {
        self.drop_marks = true;
        nfkc.clear();
        if self.skeleton
            && let Some(letter) = piece.chars().next().and_then(letter_before_nfkc)
        {
            self.sink.push_ascii(letter, from);
            return;
        }
        let mut chars = piece.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            if is_inert(c) || (is_nfkc_quick(iter::once(c)) == IsNormalized::Yes && folds_to_itself(c)) {
                self.char(c, from);
                return;
            }
            // One character: its NFKD is its NFKC unless something in it can compose.
            decompose_compatible(c, |d| nfkc.push(d));
            if nfkc.chars().skip(1).any(continues_cluster) {
                nfkc.clear();
            }
        }
        if nfkc.is_empty() {
            nfkc.extend(piece.nfkc());
        }
        folded.clear();
        for c in nfkc.chars() {
            case_fold(c, folded);
        }
        // Lowercasing can leave text that is no longer NFKC (rare); normalize once more.
        let text: &str = if folded == nfkc {
            folded
        } else {
            nfkc.clear();
            nfkc.extend(folded.nfkc());
            nfkc
        };
        for c in text.chars() {
            self.char(c, from);
        }
    }

    fn char(&mut self, c: char, from: Origin) {
        if is_inert(c) {
            self.drop_marks = false;
            self.sink.push(c, from);
            return;
        }
        if is_ignorable(c) {
            return;
        }
        if !self.skeleton {
            self.sink.push(c, from);
            return;
        }
        if c.is_ascii() || c.is_whitespace() {
            self.drop_marks = true;
            self.sink.push(c, from);
            return;
        }
        if is_combining_mark(c) {
            if !self.drop_marks {
                self.sink.push(c, from);
            }
            return;
        }
        let base = canonical_base(c);
        self.drop_marks = true;
        if base.is_ascii() {
            self.sink.push(base, from);
        } else if !latin_skeleton(base, &mut self.sink, from) {
            self.drop_marks = false;
            self.sink.push(c, from);
        }
    }
}

/// Look-alike letters that must be mapped before NFKC, because NFKC turns them into something
/// else first: lunate sigma `ϲ` (NFKC: `σ`, whose skeleton is `o`), parenthesized letters `⒜`
/// (NFKC: `(a)`, which splits words apart), and regional indicator letters `🇦` (no NFKC mapping,
/// no confusable entry).
fn letter_before_nfkc(c: char) -> Option<u8> {
    let letter = |first: char| u8::try_from(u32::from(c) - u32::from(first)).ok().map(|i| b'a' + i);
    match c {
        '\u{03F2}' | '\u{03F9}' => Some(b'c'),
        '\u{249C}'..='\u{24B5}' => letter('\u{249C}'),
        '\u{1F1E6}'..='\u{1F1FF}' => letter('\u{1F1E6}'),
        _ => None,
    }
}

/// The first character of the canonical decomposition: `é` → `e`, `й` → `и`.
fn canonical_base(c: char) -> char {
    let mut base = None;
    decompose_canonical(c, |d| {
        base.get_or_insert(d);
    });
    base.unwrap_or(c)
}

/// Pushes the ASCII skeleton of a non-ASCII base character if decancer has an acceptable one
/// (module doc, "Confusables"); returns whether it did.
fn latin_skeleton(base: char, sink: &mut Sink<'_>, from: Origin) -> bool {
    let (options, wanted): (Options, fn(&u8) -> bool) = if base.is_alphabetic() {
        (letter_options(), u8::is_ascii_alphabetic)
    } else if base.is_numeric() {
        (letter_options().retain_emojis(), u8::is_ascii_digit)
    } else {
        return false;
    };
    let mut one = [0u8; 4];
    let cured = decancer::cure_char(base, options);
    let skeleton: &str = match cured {
        Translation::Character(m) => m.encode_utf8(&mut one),
        Translation::String(ref s) => s,
        Translation::None => return false,
    };
    if skeleton.is_empty() || !skeleton.as_bytes().iter().all(wanted) {
        return false;
    }
    for &b in skeleton.as_bytes() {
        sink.push_ascii(b, from);
    }
    true
}

/// decancer's options: cure Greek, Cyrillic, Latin look-alikes (small caps, `ı`, `ø` ...) and
/// letter-like symbols; keep every other script as written.
fn letter_options() -> Options {
    Options::default()
        .retain_hebrew()
        .retain_arabic()
        .retain_devanagari()
        .retain_bengali()
        .retain_armenian()
        .retain_gujarati()
        .retain_tamil()
        .retain_thai()
        .retain_lao()
        .retain_burmese()
        .retain_khmer()
        .retain_mongolian()
        .retain_chinese()
        .retain_japanese()
        .retain_korean()
        .retain_braille()
}

/// Full case folding of one character into `out`: Unicode lowercase, plus the folds that
/// lowercase does not do and that NFKC does not cover.
fn case_fold(c: char, out: &mut String) {
    match c {
        'ß' | 'ẞ' => out.push_str("ss"),
        'ς' => out.push('σ'),
        _ => out.extend(c.to_lowercase()),
    }
}

fn folds_to_itself(c: char) -> bool {
    let mut lower = c.to_lowercase();
    lower.next() == Some(c) && lower.next().is_none() && !matches!(c, 'ß' | 'ẞ' | 'ς')
}

/// Characters removed from `basic` up: zero-width, soft hyphen, bidi controls, variation
/// selectors (including Mongolian free variation selectors and U+180E).
pub fn is_ignorable(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{E0100}'..='\u{E01EF}'
    )
}

/// Whether `c` may combine with what precedes it under NFKC, so it must stay in the same piece:
/// combining marks, Hangul medial/final jamo, the Kirat Rai vowel sign that composes, and the
/// characters whose compatibility decomposition starts with one of those (`ﾞ`, `ㅏ`, `ำ`).
/// A test checks this against every canonical composition in Unicode.
fn continues_cluster(c: char) -> bool {
    if c < '\u{0300}' || is_inert(c) {
        return false;
    }
    if is_combining_mark(c) || is_composing_letter(c) {
        return true;
    }
    let mut first = None;
    decompose_compatible(c, |d| {
        first.get_or_insert(d);
    });
    first.is_some_and(|d| d != c && (is_combining_mark(d) || is_composing_letter(d)))
}

/// Kana, Hangul syllables and CJK ideographs: the common non-Latin letters, which every level
/// keeps as they are (no decomposition, case or confusable applies; a test checks each). A
/// shortcut only.
fn is_inert(c: char) -> bool {
    matches!(
        c,
        '\u{3041}'..='\u{3096}'
            | '\u{30A1}'..='\u{30FA}'
            | '\u{3400}'..='\u{4DBF}'
            | '\u{4E00}'..='\u{9FFF}'
            | '\u{AC00}'..='\u{D7A3}'
    )
}

fn is_composing_letter(c: char) -> bool {
    matches!(c, '\u{1160}'..='\u{11FF}' | '\u{D7B0}'..='\u{D7FF}' | '\u{16D67}')
}

/// `strict` leetspeak and emoji letters of one character (`$` → `s`, `©` → `c`).
pub fn leet_char(c: char) -> char {
    leet(c)
}

/// `strict` leetspeak.
fn leet(c: char) -> char {
    if let Ok(b) = u8::try_from(c)
        && b.is_ascii()
    {
        return char::from(leet_ascii(b));
    }
    match c {
        // Emoji and symbols written for letters (variation selectors are gone since `basic`;
        // a keycap digit is its digit since `standard`, which drops the enclosing mark).
        '\u{00A9}' => 'c',               // ©
        '\u{00AE}' => 'r',               // ®
        '\u{271D}' | '\u{2020}' => 't',  // ✝ †
        '\u{1F4B2}' => 's',              // 💲
        '\u{2B55}' | '\u{1F17E}' => 'o', // ⭕ 🅾
        '\u{274C}' | '\u{2716}' => 'x',  // ❌ ✖
        '\u{2757}' | '\u{2755}' => 'i',  // ❗ ❕
        _ => c,
    }
}

/// `leet` of an ASCII byte: digits and `@ $` written for letters (`leet` for every character).
fn leet_ascii(b: u8) -> u8 {
    match b {
        b'0' => b'o',
        b'1' => b'i',
        b'3' => b'e',
        b'4' => b'a',
        b'5' => b's',
        b'7' => b't',
        b'@' => b'a',
        b'$' => b's',
        _ => b,
    }
}

/// `strict`: `c` repeats the letter `prev` and is dropped.
fn collapses(prev: char, c: char) -> bool {
    prev == c && c.is_alphabetic() && !continues_cluster(c)
}

/// The character at byte `i` of `text` (a char boundary), with a shortcut for ASCII.
fn char_at(text: &str, i: usize) -> Option<char> {
    let b = *text.as_bytes().get(i)?;
    if b.is_ascii() { Some(char::from(b)) } else { text.get(i..)?.chars().next() }
}

/// A byte offset as stored in the origin map.
fn offset(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// Origins are `u32`: longer input (far beyond any request body) is cut at a char boundary.
fn within_u32(text: &str) -> &str {
    let max = u32::MAX as usize;
    if text.len() <= max {
        return text;
    }
    let end = (0..=max).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
    text.get(..end).unwrap_or("")
}

/// Normalizes a whole string at `level` (convenience for one-off use).
pub fn normalize(level: Level, original: &str) -> Normalized {
    let mut n = Normalized::new();
    n.normalize_into(level, original);
    n
}

/// Normalizes a keyword or `except` phrase the same way text is normalized at `level`.
pub fn normalize_keyword(level: Level, keyword: &str) -> String {
    let mut n = Normalized::new();
    n.normalize_text_into(level, keyword);
    n.text
}

/// Word characters for word/prefix/suffix modes: Unicode letters, marks and digits.
pub fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    c.is_alphanumeric() || is_combining_mark(c)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use Level::{Basic, None as Raw, Standard, Strict};

    /// (name, level, input, expected normalized text)
    const CASES: &[(&str, Level, &str, &str)] = &[
        // none
        ("none keeps fullwidth", Raw, "Ｆｒｅｅ", "Ｆｒｅｅ"),
        ("none keeps case and spaces", Raw, "FREE   MONEY", "FREE   MONEY"),
        ("none keeps zero-width", Raw, "f\u{200B}ree", "f\u{200B}ree"),
        // mapped before NFKC, from standard up
        ("standard lunate sigma", Standard, "fu\u{03F2}k \u{03F9}at", "fuck cat"),
        ("standard parenthesized letters", Standard, "\u{24A6}\u{24A4}\u{24A7}\u{24A7} you", "kill you"),
        ("standard regional indicators", Standard, "\u{1F1E9}\u{1F1FA}\u{1F1F2}\u{1F1E7}", "dumb"),
        ("basic keeps regional indicators", Basic, "\u{1F1EB}\u{1F1F7}", "\u{1F1EB}\u{1F1F7}"),
        // basic
        ("basic fullwidth", Basic, "Ｆｒｅｅ", "free"),
        ("basic math bold", Basic, "𝐟𝐫𝐞𝐞", "free"),
        ("basic circled", Basic, "ⓕⓡⓔⓔ", "free"),
        ("basic ligature", Basic, "ﬁne", "fine"),
        ("basic zero-width", Basic, "f\u{200B}r\u{200C}e\u{200D}e\u{FEFF}", "free"),
        ("basic soft hyphen, word joiner", Basic, "fr\u{00AD}e\u{2060}e", "free"),
        ("basic bidi controls", Basic, "\u{202E}free\u{202C}\u{2066}x\u{2069}\u{200F}", "freex"),
        ("basic variation selector", Basic, "a\u{FE0F}b", "ab"),
        ("basic whitespace runs", Basic, "FREE   MONEY", "free money"),
        ("basic unicode whitespace", Basic, "a\u{00A0}\u{3000}\t\nb\u{2028}c", "a b c"),
        ("basic no trim", Basic, "  a  ", " a "),
        ("basic keeps cyrillic", Basic, "frее", "frее"),
        ("basic keeps diacritics", Basic, "FRÉÉ", "fréé"),
        ("basic composes", Basic, "e\u{0301}", "é"),
        ("basic composes across zero-width", Basic, "e\u{200B}\u{0301}", "é"),
        ("basic sharp s", Basic, "STRAẞE straße", "strasse strasse"),
        ("basic final sigma", Basic, "ΛΌΓΟΣ λόγος", "λόγοσ λόγοσ"),
        ("basic dotted capital i", Basic, "İ", "i\u{0307}"),
        ("basic keeps digits", Basic, "fr33 m0n3y", "fr33 m0n3y"),
        ("basic halfwidth kana", Basic, "ｶﾞ", "ガ"),
        ("basic compatibility jamo", Basic, "ㄱㅏ", "가"),
        // standard
        ("standard fullwidth", Standard, "Ｆｒｅｅ", "free"),
        ("standard cyrillic e", Standard, "frее", "free"),
        ("standard cyrillic capitals", Standard, "РАУРАL", "paypal"),
        ("standard greek", Standard, "ΑΒΕΚ", "abek"),
        ("standard math bold", Standard, "𝐟𝐫𝐞𝐞", "free"),
        ("standard circled", Standard, "ⓕⓡⓔⓔ", "free"),
        ("standard negative squared", Standard, "🅵🆁🅴🅴", "free"),
        ("standard small caps", Standard, "ꜰʀᴇᴇ", "free"),
        ("standard zero-width", Standard, "f\u{200B}ree", "free"),
        ("standard diacritics", Standard, "fréé ñ Ünïcödé", "free n unicode"),
        ("standard zalgo", Standard, "z\u{0337}\u{0301}a\u{0334}l\u{0336}g\u{0338}o", "zalgo"),
        ("standard stroke letters", Standard, "ø ł đ æ", "o l d ae"),
        ("standard dotless i", Standard, "ı", "i"),
        ("standard dotted capital i", Standard, "İ", "i"),
        ("standard whitespace runs", Standard, "FREE   MONEY", "free money"),
        ("standard keeps digits", Standard, "fr33 m0n3y", "fr33 m0n3y"),
        ("standard keeps leet symbols", Standard, "$hit @ss", "$hit @ss"),
        ("standard no letter to digit", Standard, "б з", "б з"),
        ("standard keeps symbols", Standard, "© € ∀ ★", "© € ∀ ★"),
        ("standard keeps emoji", Standard, "free 😀🎉", "free 😀🎉"),
        ("standard chinese", Standard, "免费 中文 口 日", "免费 中文 口 日"),
        ("standard japanese", Standard, "ひらがな カタカナ が", "ひらがな カタカナ が"),
        ("standard korean", Standard, "한국어", "한국어"),
        ("standard arabic", Standard, "مرحبا بالعالم", "مرحبا بالعالم"),
        ("standard hebrew", Standard, "שלום", "שלום"),
        ("standard devanagari", Standard, "हिन्दी", "हिन्दी"),
        ("standard thai", Standard, "ภาษาไทย", "ภาษาไทย"),
        ("standard mixed case script", Standard, "ÇA VA Ω", "ca va w"),
        ("standard whole cyrillic alphabet", Standard, "Привет", "npnbet"),
        ("standard space then mark", Standard, "a \u{0301} b", "a b"),
        // strict
        ("strict dots", Strict, "f.r.e.e", "fre"),
        ("strict spaced letters", Strict, "f r e e m o n e y", "fremoney"),
        ("strict mixed separators", Strict, "f-r_e*e", "fre"),
        ("strict dot space", Strict, "f. r. e. e", "fre"),
        ("strict spaced dashes", Strict, "f - r - e - e", "fre"),
        ("strict inner dot", Strict, "fr.ee", "fre"),
        ("strict apostrophe", Strict, "don't", "dont"),
        ("strict repeats", Strict, "freeeee", "fre"),
        ("strict repeats u", Strict, "fuuuuck", "fuck"),
        ("strict keyword free", Strict, "free", "fre"),
        ("strict leet", Strict, "fr33 m0n3y", "fre money"),
        ("strict leet dollar", Strict, "$hit", "shit"),
        ("strict leet at", Strict, "@ss", "as"),
        ("strict leet 1 4 5 7", Strict, "1n 4 5h17", "in a shit"),
        ("strict ordinary words", Strict, "free money", "fre money"),
        ("strict two words", Strict, "a cat", "a cat"),
        ("strict two singles", Strict, "a b", "a b"),
        ("strict singles inside a sentence", Strict, "get f r e e stuff", "get fre stuf"),
        ("strict edge punctuation kept", Strict, "(free!)", "(fre!)"),
        ("strict fullwidth dots", Strict, "Ｆ.Ｒ.Ｅ.Ｅ", "fre"),
        ("strict zero-width", Strict, "f\u{200B}r\u{200B}e\u{200B}e", "fre"),
        ("strict cyrillic", Strict, "frее", "fre"),
        ("strict repeated single", Strict, "ff r e", "fre"),
        ("strict symbol separators", Strict, "f★r★e★e", "fre"),
        ("strict keeps cjk", Strict, "免费 的", "免费 的"),
        ("strict collapses cjk repeats", Strict, "哈哈", "哈"),
        ("strict keeps emoji gap", Strict, "hi 😀 there", "hi 😀 there"),
    ];

    #[test]
    fn cases() {
        let mut failures = Vec::new();
        for &(name, level, input, expected) in CASES {
            let got = normalize(level, input);
            if got.text() != expected {
                failures.push(format!("{name} ({}): {input:?} → {:?}, want {expected:?}", level.name(), got.text()));
            }
        }
        assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    }

    /// (name, level, original, needle in the normalized text, expected original substring)
    const SPANS: &[(&str, Level, &str, &str, &str)] = &[
        ("strict dots", Strict, "Get f.r.e.e stuff", "fre", "f.r.e.e"),
        ("strict spaced", Strict, "so f r e e m o n e y!", "fremoney", "f r e e m o n e y"),
        ("strict repeats", Strict, "freeeee!", "fre", "freeeee"),
        ("strict leet", Strict, "fr33 m0n3y", "fre money", "fr33 m0n3y"),
        ("strict last letter of run", Strict, "xfreeeee", "e", "eeeee"),
        ("standard fullwidth", Standard, "Get Ｆｒｅｅ stuff", "free", "Ｆｒｅｅ"),
        ("standard cyrillic", Standard, "a frее b", "free", "frее"),
        ("standard diacritics", Standard, "cafe\u{0301} au lait", "cafe", "cafe\u{0301}"),
        ("standard ligature half", Standard, "ﬁne", "i", "ﬁ"),
        ("standard regional indicator", Standard, "x \u{1F1E9}\u{1F1FA} y", "du", "\u{1F1E9}\u{1F1FA}"),
        ("basic zero-width", Basic, "a f\u{200B}ree b", "free", "f\u{200B}ree"),
        ("basic whitespace run", Basic, "FREE \t\n MONEY", "free money", "FREE \t\n MONEY"),
        ("basic space alone", Basic, "a \u{3000} b", " ", " \u{3000} "),
        ("basic dotted i", Basic, "İstanbul", "stanbul", "stanbul"),
        ("basic after dotted i", Basic, "İx", "x", "x"),
        ("none", Raw, "héllo", "é", "é"),
    ];

    #[test]
    fn spans() {
        let mut failures = Vec::new();
        for &(name, level, original, needle, expected) in SPANS {
            let n = normalize(level, original);
            let Some(start) = n.text().find(needle) else {
                failures.push(format!("{name}: {needle:?} not in {:?}", n.text()));
                continue;
            };
            let (a, b) = n.original_span(start, start + needle.len());
            let got = original.get(a..b);
            if got != Some(expected) {
                failures.push(format!("{name}: {needle:?} in {:?} → {got:?}, want {expected:?}", n.text()));
            }
        }
        assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    }

    /// (name, original, strict text, its soft boundaries)
    const SOFT: &[(&str, &str, &str, &[u32])] = &[
        ("one-letter word glued to spaced letters", "what a c u n t", "what acunt", &[5, 6, 10]),
        ("spaced letters alone", "f u c k this", "fuck this", &[0, 4]),
        ("run inside a sentence", "you are a f u c k i n g idiot", "you are afucking idiot", &[8, 9, 16]),
        ("capital I and leet", "I 5 h 1 t you not", "ishit you not", &[0, 1, 5]),
        ("collapsed letters share one offset", "a s s h o l e", "ashole", &[0, 1, 6]),
        ("repeated single", "ff r e", "fre", &[0, 3]),
        ("dots", "f.r.e.e", "fre", &[0, 3]),
        ("mixed separators", "f-r_e*e", "fre", &[0, 3]),
        ("dot space", "so f. r. e. e!", "so fre!", &[3, 6]),
        ("run meets a longer word", "f.u.c.k.ing", "fucking", &[0, 4]),
        ("two joined singles", "a.b c", "ab c", &[0, 1, 2]),
        ("ordinary words", "free money", "fre money", &[]),
        ("normally written word", "Scunthorpe assessment", "scunthorpe asesment", &[]),
        ("gap between longer words", "fr.ee", "fre", &[]),
        ("apostrophe", "don't", "dont", &[]),
        ("two spaced singles stay apart", "a b", "a b", &[]),
        ("sentence without runs", "get it, a cat sat.", "get it, a cat sat.", &[]),
    ];

    #[test]
    fn soft_boundaries() {
        let mut failures = Vec::new();
        let mut n = Normalized::new();
        for &(name, original, text, want) in SOFT {
            n.normalize_into(Strict, original);
            if n.text() != text || n.soft != want {
                failures.push(format!("{name}: {original:?} → {:?} {:?}, want {text:?} {want:?}", n.text(), n.soft));
            }
            for offset in 0..=n.text().len() + 1 {
                if n.is_soft_boundary(offset) != want.contains(&offset_u32(offset)) {
                    failures.push(format!("{name}: is_soft_boundary({offset}) disagrees with {want:?}"));
                }
            }
        }
        assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    }

    fn offset_u32(i: usize) -> u32 {
        u32::try_from(i).unwrap()
    }

    #[test]
    fn soft_boundaries_only_at_strict_and_cleared_on_reuse() {
        let mut n = Normalized::new();
        for level in [Raw, Basic, Standard] {
            n.normalize_into(level, "what a c u n t");
            assert!((0..=n.text().len()).all(|o| !n.is_soft_boundary(o)), "{level:?}");
        }
        n.normalize_into(Strict, "what a c u n t");
        assert!(n.is_soft_boundary(6));
        // Censored letters: a removed symbol inside a word is recorded where it was.
        n.normalize_into(Strict, "f*ck that, f u c k");
        assert_eq!(n.text(), "fck that, fuck");
        assert!(n.removed_inside(0, 3) && !n.removed_inside(1, 3) && !n.removed_inside(10, 14));
        n.normalize_into(Standard, "f*ck");
        assert!(!n.removed_inside(0, 4));
        n.normalize_into(Strict, "what a cunt");
        assert!((0..=n.text().len()).all(|o| !n.is_soft_boundary(o)), "{:?}", n.soft);
    }

    #[test]
    fn reuse_clears_previous_text() {
        let mut n = Normalized::new();
        n.normalize_into(Strict, "f r e e m o n e y and much more text");
        n.normalize_into(Basic, "Hi");
        assert_eq!(n.text(), "hi");
        assert_eq!(n.original_span(0, 2), (0, 2));
        n.normalize_into(Raw, "");
        assert_eq!(n.text(), "");
        assert_eq!(n.original_span(0, 1), (0, 0));
    }

    #[test]
    fn keywords_match_text() {
        assert_eq!(normalize_keyword(Strict, "Free Money"), normalize(Strict, "fr33   m0n3y").text());
        assert_eq!(normalize_keyword(Strict, "free"), normalize(Strict, "F.R.E.E.E").text());
        assert_eq!(normalize_keyword(Standard, "free"), normalize(Standard, "ƒгее").text());
    }

    #[test]
    fn level_names_and_serde() {
        for level in Level::ALL {
            let parsed: Level = serde_json::from_str(&format!("\"{}\"", level.name())).unwrap();
            assert_eq!(parsed, level);
        }
        assert_eq!(Level::default(), Standard);
    }

    /// Every canonical composition's second character must continue a piece, or NFKC of the
    /// pieces would differ from NFKC of the whole.
    #[test]
    fn pieces_hold_every_composition() {
        let mut missing = Vec::new();
        for c in (0..=0x10FFFF_u32).filter_map(char::from_u32) {
            let mut parts = Vec::new();
            decompose_canonical(c, |d| parts.push(d));
            for &part in parts.iter().skip(1) {
                if !continues_cluster(part) {
                    missing.push(format!("U+{:04X} in U+{:04X}", part as u32, c as u32));
                }
            }
        }
        assert!(missing.is_empty(), "{missing:?}");
    }

    /// The shortcuts agree with the full definitions on every character.
    /// `Cues::of` as first written, one `match` per byte: what the branch-free loop must equal.
    fn cues_by_match(original: &str) -> (bool, bool) {
        let mut cues = Cues::default();
        let mut prev = 0u8;
        for &b in original.as_bytes() {
            match b {
                b'@' | b'$' => {
                    cues.symbols = true;
                    cues.compound |= b == b'@';
                }
                b'#' | b'_' => cues.compound = true,
                b'(' | b'^' | b'|' | b'+' if prev.is_ascii_alphabetic() || prev == b'!' => cues.symbols = true,
                _ if matches!(prev, b'(' | b'^' | b'|' | b'+') && b.is_ascii_alphabetic() => cues.symbols = true,
                _ => {
                    cues.compound |= (prev.is_ascii_lowercase() && b.is_ascii_uppercase())
                        || (prev.is_ascii_alphabetic() && b.is_ascii_digit())
                        || (prev.is_ascii_digit() && b.is_ascii_alphabetic());
                }
            }
            prev = b;
        }
        (cues.compound, cues.symbols)
    }

    #[test]
    fn cues_of_every_byte_pair() {
        for a in 0..=127u8 {
            for b in 0..=127u8 {
                let text = String::from_utf8(vec![a, b]).unwrap();
                let cues = Cues::of(&text);
                assert_eq!((cues.compound, cues.symbols), cues_by_match(&text), "{text:?}");
            }
        }
    }

    #[test]
    fn shortcuts_are_exact() {
        let mut wrong = Vec::new();
        for c in (0..=0x10FFFF_u32).filter_map(char::from_u32) {
            let mut first = None;
            decompose_compatible(c, |d| {
                first.get_or_insert(d);
            });
            let combines = |d: char| is_combining_mark(d) || is_composing_letter(d);
            let full = combines(c) || first.is_some_and(|d| d != c && combines(d));
            if continues_cluster(c) != full {
                wrong.push(format!("continues_cluster U+{:04X}", c as u32));
            }
            if is_word_char(c) != (c.is_alphanumeric() || is_combining_mark(c)) {
                wrong.push(format!("is_word_char U+{:04X}", c as u32));
            }
            if is_inert(c) {
                let mut sink_text = String::new();
                let mut sink_origin = Vec::new();
                let mut sink = Sink { text: &mut sink_text, origin: &mut sink_origin, origins: true, in_space: false };
                let inert = !is_ignorable(c)
                    && !full
                    && is_nfkc_quick(iter::once(c)) == IsNormalized::Yes
                    && folds_to_itself(c)
                    && !c.is_whitespace()
                    && is_word_char(c)
                    && leet(c) == c
                    && !latin_skeleton(canonical_base(c), &mut sink, (0, 0));
                if !inert {
                    wrong.push(format!("is_inert U+{:04X}", c as u32));
                }
            }
        }
        assert!(wrong.is_empty(), "{wrong:?}");
    }

    /// Each character alone, at each level: no panic, idempotent.
    #[test]
    fn every_char_is_stable() {
        let mut failures = Vec::new();
        let mut n = Normalized::new();
        let mut again = Normalized::new();
        let mut buf = String::new();
        for c in (0..=0x10FFFF_u32).filter_map(char::from_u32) {
            buf.clear();
            buf.push(c);
            for level in [Basic, Standard, Strict] {
                n.normalize_into(level, &buf);
                again.normalize_into(level, n.text());
                if again.text() != n.text() && failures.len() < 50 {
                    failures.push(format!(
                        "U+{:04X} at {}: {:?} → {:?}",
                        c as u32,
                        level.name(),
                        n.text(),
                        again.text()
                    ));
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    fn tricky_char() -> impl Strategy<Value = char> {
        prop_oneof![
            4 => prop::sample::select(
                "aAbeEfFiIlmnoOrsStxyz0134579@$.-_*,'`~|+/\\:; \t\n!?()".chars().collect::<Vec<_>>()
            ),
            2 => prop::sample::select(
                "аеорсхАЕОРСХбзиπσςΣßẞİıøæＦｒｅ𝐟𝐫ⓕ🅵ᴇꜰ©€★😀中文口日한ㄱㅏｶﾞ\u{1100}\u{1161}\u{11A8}가ำمرשׁहि"
                    .chars()
                    .collect::<Vec<_>>()
            ),
            2 => prop::sample::select(
                "\u{0301}\u{0308}\u{0307}\u{0327}\u{0334}\u{0345}\u{05C1}\u{093F}\u{094D}\u{0BBE}\u{3099}\u{20E3}\u{16D67}\u{16D63}"
                    .chars()
                    .collect::<Vec<_>>()
            ),
            2 => prop::sample::select(
                "\u{200B}\u{200C}\u{200D}\u{200E}\u{202E}\u{2066}\u{2060}\u{FEFF}\u{00AD}\u{180E}\u{FE0F}\u{E0100}\u{061C}\u{00A0}\u{3000}\u{2028}\u{0085}"
                    .chars()
                    .collect::<Vec<_>>()
            ),
            1 => any::<char>(),
        ]
    }

    fn tricky_string() -> impl Strategy<Value = String> {
        prop::collection::vec(tricky_char(), 0..40).prop_map(|v| v.into_iter().collect())
    }

    fn check(original: &str) -> Result<(), TestCaseError> {
        for level in Level::ALL {
            let n = normalize(level, original);
            let text = n.text();
            let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
            for (k, &a) in bounds.iter().enumerate() {
                for &b in &bounds[k + 1..] {
                    let (s, e) = n.original_span(a, b);
                    prop_assert!(s <= e && e <= original.len(), "{level:?} {a}..{b} → {s}..{e}");
                    prop_assert!(
                        original.is_char_boundary(s) && original.is_char_boundary(e),
                        "{level:?} {a}..{b} → {s}..{e} not on boundaries"
                    );
                }
            }
            // Soft boundaries: strict only, strictly increasing, on char boundaries of the text.
            prop_assert!(level == Strict || n.soft.is_empty(), "{level:?} {:?}", n.soft);
            prop_assert!(n.soft.windows(2).all(|w| w[0] < w[1]), "{:?}", n.soft);
            prop_assert!(n.soft.iter().all(|&o| text.is_char_boundary(o as usize)), "{text:?} {:?}", n.soft);
            // The request path's text without origins, and the map added after a hit, are the
            // same as normalizing with origins at once.
            let mut lazy = Normalized::new();
            lazy.normalize_text_into(level, original);
            prop_assert_eq!(lazy.text(), text, "{:?} text without origins", level);
            // What the matcher reads before any origin map: the same as with one.
            prop_assert_eq!(&lazy.soft, &n.soft, "{:?} soft boundaries without origins", level);
            prop_assert_eq!(&lazy.removed, &n.removed, "{:?} removed without origins", level);
            prop_assert_eq!(&lazy.apostrophes, &n.apostrophes, "{:?} apostrophes without origins", level);
            prop_assert_eq!(&lazy.masked, &n.masked, "{:?} masked words without origins", level);
            prop_assert_eq!(&lazy.parts, &n.parts, "{:?} compound boundaries without origins", level);
            prop_assert_eq!(&lazy.compounds, &n.compounds, "{:?} compounds without origins", level);
            lazy.add_origins(level, original);
            for (k, &a) in bounds.iter().enumerate() {
                for &b in &bounds[k + 1..] {
                    prop_assert_eq!(
                        lazy.original_span(a, b),
                        n.original_span(a, b),
                        "{:?} {}..{} added later",
                        level,
                        a,
                        b
                    );
                }
            }
            let once = normalize_keyword(level, original);
            prop_assert_eq!(&once, text);
            let twice = normalize_keyword(level, &once);
            prop_assert_eq!(&twice, &once, "{:?} not idempotent on {:?}", level, original);
        }
        Ok(())
    }

    /// 2000 cases unless `PROPTEST_CASES` says otherwise.
    fn config() -> ProptestConfig {
        let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
        ProptestConfig::with_cases(cases)
    }

    /// The ASCII shortcut and the general path agree on every ASCII string.
    #[test]
    fn ascii_shortcut_matches_the_general_path() {
        let mut runner = proptest::test_runner::TestRunner::new(config());
        let strategy = "[ -~\t\n\r\x0b\x0c]{0,60}";
        runner
            .run(&strategy, |s| {
                for skeleton in [false, true] {
                    let mut general = Normalized::new();
                    general.fold(&s, skeleton, true);
                    let mut shortcut = Normalized::new();
                    shortcut.fold_ascii(&s);
                    prop_assert_eq!(&general.text, &shortcut.text);
                    prop_assert_eq!(&general.origin, &shortcut.origin);
                    let mut copied = String::new();
                    if lowercase_single_spaced(&s, &mut copied) {
                        prop_assert_eq!(&general.text, &copied);
                        let at_itself: Vec<Origin> = (0..s.len()).map(|i| (offset(i), offset(i + 1))).collect();
                        prop_assert_eq!(&general.origin, &at_itself);
                    } else {
                        prop_assert!(copied.is_empty(), "wrote {copied:?} for text it does not take");
                    }
                }
                Ok(())
            })
            .unwrap();
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn arbitrary_text(original in "\\PC*") {
            check(&original)?;
        }

        #[test]
        fn tricky_text(original in tricky_string()) {
            check(&original)?;
        }

        /// Few distinct characters, so separators, single letters and repeats meet often.
        #[test]
        fn cues_equal_the_match(original in "[aZ1_#@$(^|+!. é]{0,12}") {
            let cues = Cues::of(&original);
            prop_assert_eq!((cues.compound, cues.symbols), cues_by_match(&original));
        }

        #[test]
        fn small_alphabet(original in "[aAb1$é .\\-\u{0301}\u{200B}ㅏ]{0,14}") {
            check(&original)?;
        }
    }
}
