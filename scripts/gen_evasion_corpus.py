#!/usr/bin/env python3
"""Generate the adversarial evasion corpus and the rule pack that is measured against it.

Writes, deterministically (fixed seed, Python 3.11 standard library only):

  tests/data/evasion/corpus.tsv           label, technique, target, text (one line per case)
  tests/data/evasion/rules/evasion.toml   one pack: the targets as keywords, strict, word mode

`tests/it/evasion.rs` reads both and compares inflight with the `rustrict` crate (EVASION.md).

Usage:
  python3 scripts/gen_evasion_corpus.py          # (re)write the files
  python3 scripts/gen_evasion_corpus.py --check  # exit 1 if the files are not what this script writes

Corpus lines
  label      `target` (must be caught), `benign` (ordinary chat) or `trap` (innocent text that
             contains a target's letters: Scunthorpe, cocktail, who're ...).
  technique  the evasion applied (`plain`, `leet`, ... or `combo:leet+sep_dot`); for benign and
             trap lines, the kind of sentence (`chat`, `carrier`, `scunthorpe`, `joined`,
             `variant`, `collision`).
  target     the keyword the line should hit (empty for benign and trap lines).
  text       the message: the disguised target embedded in a chat sentence.

Adding a technique
  Write ONE function decorated with `@technique(NAME, STAGE)` in the "Techniques" section below.
  It receives the target as a list of *units* (one string per character, `" "` between words)
  and a `random.Random`, and returns the new unit list. That is all: every target gets
  VARIANTS lines of it, and it can be named in COMBOS. STAGE orders techniques inside a
  combination: SHAPE (replace a letter) < MARKS (add to a letter) < REPEAT < INSERT (put
  something between letters). Keep a unit per original letter until the INSERT stage, so later
  techniques can still tell letters apart (`is_letter_unit`).

  A technique that `strict` does not claim to undo (docs/normalization.md) also goes into
  BEYOND_STRICT in tests/it/evasion.rs: it is then reported (marked with a dagger) but kept out
  of the assertions.

Changing targets, carriers, benign or trap sentences: edit the lists below and rerun; the rule pack
is regenerated from the same TARGETS so the two never disagree.
"""

from __future__ import annotations

import random
import re
import sys
import unicodedata
from pathlib import Path
from typing import Callable

SEED = 20240611
VARIANTS = 2  # lines per (target, single technique); each combination gets one line per target

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "tests" / "data" / "evasion"

# --------------------------------------------------------------------------------------------
# Targets: what the rule pack lists and what every `target` line hides.
# --------------------------------------------------------------------------------------------

SPAM_TARGETS = [
    "free money",
    "double your bitcoin",
    "click here",
    "work from home",
    "crypto giveaway",
    "make money fast",
    "claim your prize",
    "limited time offer",
    "buy followers",
    "cheap viagra",
    "earn cash",
    "send bitcoin",
    "guaranteed profit",
    "free gift card",
]

ABUSE_TARGETS = [
    "fuck",
    "shit",
    "bitch",
    "asshole",
    "cunt",
    "dick",
    "bastard",
    "slut",
    "whore",
    "retard",
    "kill yourself",
    "motherfucker",
    "dickhead",
    "pussy",
    "cock",
    "wanker",
    "douchebag",
    "dumbass",
    "jackass",
    "piss off",
]

# `except` phrases for the pack. Only phrases a corpus line needs go here, each with its reason.
EXCEPT: list[tuple[str, str]] = [
    ("dick's sporting goods", "a shop's name: the apostrophe is a word boundary, so `Dick` is a word"),
    ("kuntz", "a surname equal to a phonetic spelling of a form of `cunt` (`kunts` with `z`)"),
]

# --------------------------------------------------------------------------------------------
# Sentences. Carriers hold a target (`{}`); benign and trap lines are written out whole.
# Carriers are also emitted as benign lines with a neutral word, so a carrier that a filter
# flags on its own shows up as a false positive instead of inflating recall.
# --------------------------------------------------------------------------------------------

SPAM_CARRIERS = [
    "{} - dm me for details",
    "hey everyone, {} at the link in my bio",
    "{}!!! only 10 spots left",
    "check this out: {}",
    "want {}? message me now",
    "guys I found a way to {} lol",
    "{} today, ask me how",
    "not joking, {} is real",
]

ABUSE_CARRIERS = [
    "you {}",
    "omg {} lol",
    "shut up {}",
    "what a {}",
    "you're a {} and everyone knows it",
    "{} this game",
    "ugh, {}.",
    "honestly {}!!",
    "reply to me again and I'll say it: {}",
    "lmao {} 😂",
]

NEUTRAL_WORDS = ["pancakes", "the weekend", "good luck", "sunshine", "teamwork", "homework"]

BENIGN_CHAT = [
    "hey, are we still on for lunch tomorrow?",
    "I'll be there in 10 minutes",
    "can you send me the slides from today's meeting?",
    "lol that's hilarious",
    "good morning everyone!",
    "does anyone know when the store closes?",
    "happy birthday!! 🎉🎂",
    "thanks so much, that really helped",
    "I'm running late, sorry",
    "the build is green again, nice work",
    "who's bringing snacks on Friday?",
    "my cat knocked my coffee over this morning",
    "let's move the call to 3:30",
    "room 101 is booked until noon",
    "it costs $5 at the cafe downstairs",
    "see you at 7",
    "did you watch the game last night?",
    "I passed my driving test!",
    "as soon as I get home I'll check",
    "that's as good as it gets",
    "we should grab dinner sometime",
    "the wifi password is on the fridge",
    "can someone review my PR? it's small",
    "I need a, b and c from the list",
    "plan A failed, let's try plan B",
    "my score was 4 5 6 in the three rounds",
    "version 2.1.7 fixed the crash",
    "call me at 555-0173 after 6",
    "OK",
    "yes",
    "nope",
    "brb",
    "ttyl",
    "I love this song so much",
    "the sunset tonight was amazing",
    "could you pick up milk on the way?",
    "what time does the movie start?",
    "just finished my first marathon 🏃",
    "good game, well played everyone",
    "I hate Mondays",
    "this pizza is the best in town",
    "I'm so tired today",
    "where did you park?",
    "the meeting notes are in the shared drive",
    "have a safe flight!",
    "my flight got delayed by 2 hours",
    "let me know if you need anything",
    "u up?",
    "i dunno, maybe later",
    "congrats on the new job!",
    "the kids are asleep finally",
    "it's raining again",
    "who won the match?",
    "we're out of coffee",
    "I'm at the gym, call you after",
    "he said he'd be late",
    "she'll call you back",
    "we'll see",
    "that was a close one",
    "I can't believe it's already December",
    "check the docs at www.example.com/help",
    "email me at jo@example.com",
    "¿dónde está la estación?",
    "très bien, merci",
    "Schöne Grüße aus München",
    "привет, как дела?",
    "спасибо, всё хорошо",
    "Καλημέρα, τι κάνεις;",
    "こんにちは、元気ですか？",
    "你好，今天天气很好",
    "안녕하세요",
    "مرحبا كيف حالك",
    "शुभ प्रभात",
    "Ｆｕｌｌｗｉｄｔｈ ｔｅｘｔ ｉｓ ｆｉｎｅ",
    "𝐛𝐨𝐥𝐝 𝐠𝐫𝐞𝐞𝐭𝐢𝐧𝐠𝐬 everyone",
    "I'm sooooo happy right now",
    "nooooo way",
    "h e l l o there",
    "a.k.a. the boss",
    "e.g. the second option",
    "lol 😂😂😂",
    "👍",
    "free shipping on orders over $50",
    "my money is on the blue team",
    "work is busy this week",
    "click the blue button to continue",
    "I'm working from the office today",
    "her prize-winning cake was delicious",
    "the offer expires Friday",
    "time to go home",
    "he's a bit of a character",
    "sick beat, bro",
    "kill the process and restart it",
    "this bug is killing me",
    "I'm pissed the bus was late",
]

# Innocent text that contains a target's letters. `scunthorpe`: a target inside a longer word.
# `joined`: strict normalization joins the pieces of something innocent.
TRAPS_SCUNTHORPE = [
    "I grew up near Scunthorpe",
    "the assessment is due Monday",
    "let's grab a cocktail after work",
    "reading Dickens for class",
    "my therapist says hi",
    "shitake mushrooms are the best",
    "first class tickets were sold out",
    "the grass is always greener",
    "he plays bass in a band",
    "we drove through Sussex",
    "please sign the document",
    "Hancock is a good movie",
    "pushit is my favourite Salt-N-Pepa song",
    "Matsushita made my old TV",
    "the train stops at Penistone",
    "Arsenal won again",
    "the analysis looks solid",
    "cumulative totals are at the bottom",
    "under the circumstances, fine",
    "I keep a scrapbook",
    "badminton with a shuttlecock",
    "a peacock walked across the road",
    "the pilot left the cockpit",
    "Emily Dickinson wrote that poem",
    "fire retardant spray",
    "a bastardized version of the recipe",
    "the cockroach is back",
    "Hitchcock's best film",
    "we saw a cockatoo at the zoo",
    "the assassin's creed soundtrack",
    "I have a passion for cooking",
    "the embassy is closed today",
    "old cassette tapes",
    "stop harassing the cat",
    "grab a compass",
    "Cumberland sausages",
    "a Wankel engine",
    "Middlesex county",
    "the cucumber salad",
    "Shitterton is a village in Dorset",
    "the dickensian streets of London",
    "pussycat dolls on the radio",
    "a basement apartment",
    "mass transit is faster",
    "glasses for reading",
    "her associate called",
    "the rooster's cockscomb",
    "I bought a new class ring",
    "bitcoin price is up today",
]

TRAPS_JOINED = [
    "who're you meeting tonight?",
    "push it to the main branch",
    "I need to s h i p this by Friday",
    "Dick's Sporting Goods has a sale",
    "that's a cock-up, fix it",
    "the CEO's puss-in-boots costume",
    "see p.s. below",
    "b.s. degree in biology",
    "the c.u.n.y. campus",
    "S.H.I.E.L.D. agents",
    "I dunno, c u later",
]

# `variant`: ordinary words that a strict keyword variant (compile.rs `strict_variants`: a vowel
# left out, a split) would equal, had its common-word guard not refused to make it: `dumb as`,
# `jack as`, `sh it`, `jacks`, `as hole`.
TRAPS_VARIANT = [
    "he's as dumb as a box of rocks",
    "Jack as Romeo was the best part of the play",
    "shh it hurts, let me sleep",
    "we did jumping jacks in gym",
    "I use putty as hole filler",
]
# `collision`: texting abbreviations equal to a variant that is kept, because no rule can tell
# them from the evasion: `cnt` is also c*nt, `whre` also wh*re. Reported, not asserted.
TRAPS_COLLISION = [
    "sry I cnt make it tonight",
    "whre r u",
]

# ---- Issue 15 negatives: innocent lines of the kinds word lists trip over.

DICT = Path("/usr/share/dict/american-english")  # Debian `wamerican`
DICT_SAMPLE = 700  # ordinary dictionary words sharing a target's first three letters

# Names and places people actually live in (rules/abuse.toml lists them under `except`).
NAMES_PLACES = [
    "Scunthorpe", "Penistone", "Clitheroe", "Cockburn", "Dickens", "Hancock", "Essex", "Sussex",
    "Middlesex", "Assisi", "Shitterton", "Bitchfield", "Matsushita", "Cockermouth", "Dickinson",
    "Hitchcock", "Babcock", "Wilcox", "Glasscock", "Titcomb", "Lipshitz", "Fuchs", "Dixon",
    "Cumming", "Cockfosters", "Wankie", "Bastardo", "Slutsk", "Twatt",
    "Kuntz", "Dickerson", "Hitchin", "Basildon", "Whoreland Farm", "Pissarro", "Sheetal",
]
NAME_CARRIERS = ["{}", "I live in {}", "we met {} yesterday", "{} is lovely in spring", "ask {} about it"]

# Ordinary words whose letters, spelled out, hold a shorter target or a word of the packs.
SPELLED_WORDS = [
    "scunthorpe", "casinos", "class", "grape", "ship", "hello", "document", "assess", "cocktail",
    "therapist", "shitake", "passion", "bitcoin", "analysis", "cucumber", "peacock", "button",
    "titanic", "pushing", "sussex", "dickens", "hancock", "embassy", "harass", "cockpit",
]
SPELL_STYLES = [" ", ".", "-", "_", ". "]

HASHTAGS = [
    "#classof2025", "@assistant_bot", "#therapistfinder", "#expertsexchange", "#cocktailhour",
    "#ScunthorpeUnited", "#penistone", "#assessmentday", "#bassguitar", "#passiton",
    "@dickens_fan", "@hancock_official", "#sussexbythesea", "#shiitakerisotto", "#pushitrealgood",
    "#grassroots", "#classicrock", "#documentary", "#massage", "@cockburn_j", "#peacockfeathers",
    "#MiddlesexCounty", "#cockpitview", "#hitchcockmovies", "@bassist99", "#TitanicMovie",
    "#assassinscreed", "#glassware", "#Scrapbooking", "#analytics", "#cumulonimbus", "#Essex2025",
    "#shuttlecock", "#bitcoinnews", "@wankel_engines", "#retardantfoam", "#dickinsonpoems",
    "#compass", "#harassmentfree", "#ambassador", "#shitakemushroom", "#cockatoo",
]

CODE = [
    "let cnt = items.len();", "git push it to origin", "x->assign(y)", "shift_key = True",
    "def assess(self): pass", "cocktail_id = 42", "SELECT * FROM class WHERE id = 1;",
    "const passThrough = true;", "if (!assert(x)) return;", "analysis_results.csv",
    "import Scunthorpe.data as d", "bitset[i] = 1", "npm install assemblyscript",
    "dict.get('key')", "ssh user@host", "chmod +x pushit.sh", "#include <stdio.h>", "arr[i]++",
    "s/class/klass/g", "matches!(c, 'a' | 'b')", "fn shift(&mut self)", "kubectl get pods",
    "$HOME/.bashrc", "echo $PATH", "a**2 + b**2", "x = y ** 3", "count(*)", "f(x) = x^2",
]

URLS = [
    "https://www.scunthorpe-united.co.uk/tickets", "https://example.com/cocktails?page=2",
    "www.assessment-centre.org", "https://en.wikipedia.org/wiki/Penistone",
    "https://github.com/user/cockpit", "http://dickens.example.org/bleak-house",
    "https://shop.example/classic-bass", "https://t.co/aB3dE", "https://docs.rs/regex/latest",
    "https://sussex.ac.uk/about", "www.hancock-family.net", "https://www.middlesex.edu",
]

EMAILS = [
    "hancock@example.com", "assistant@company.org", "dick.smith@mail.example",
    "class.rep@school.edu", "j.cockburn@uni.ac.uk", "scunthorpe.fc@club.co.uk",
    "analyst@bank.example", "bass.player@band.example", "peacock@zoo.example",
]

CONTRACTIONS = [
    "who're you meeting?", "he'll be late", "Ashlee's birthday is today", "she'd know",
    "we're fine", "y'all ready?", "it's five o'clock", "they've gone home", "I'd rather not",
    "who'd have thought", "you're right", "Cass's car", "Dick's Sporting Goods", "the boss's desk",
    "he's got it", "we'd better go", "Sasha's class", "don't ask",
    "can't wait", "won't happen", "ma'am", "rock 'n' roll", "it'll do",
]

EMOTICONS = [
    ":-)", ":P", "xD", "<3", ";)", ":'(", "(╯°□°）╯︵ ┻━┻", "¯\\_(ツ)_/¯", "^_^", "o_O",
    ":-/", "B-)", ":D", "@#$%!", "%$#@", "!@#$", "#$%&!", "?!?!", "$$$", "@@@", "***", "...",
]

# Starred words with only the first letter showing name no word: not counted as evasions.
STARRED_ONLY = ["what the f***", "oh s***", "you b****", "that's c***", "f*** this", "a**", "d***"]


def dictionary_traps() -> list[str]:
    """Dictionary words holding a target, less the targets, their inflections and other listed
    profanity (`bullshit`), plus a sample of words sharing a target's first three letters."""
    if not DICT.exists():
        raise SystemExit(f"{DICT} is missing: apt-get install wamerican")
    words = sorted({w.strip() for w in DICT.read_text(encoding="utf-8").splitlines() if w.strip()})
    profane = [t for t in ABUSE_TARGETS if " " not in t]
    listed = (ROOT / "rules" / "lists" / "profanity.txt").read_text(encoding="utf-8").split()
    rude = set(profane) | {w for w in listed if not w.startswith("#")}
    rude |= {f for w in list(rude) for f in english_forms(w)}

    def innocent(w: str) -> bool:
        base = w.lower().removesuffix("'s")
        return base not in rude and not any(base.endswith(r) or base.startswith(r) for r in ("bullshit", "dumbass", "jackass", "motherfuck"))

    holding = [w for w in words if any(t in w.lower() for t in profane) and innocent(w)]
    prefixes = {t[:3] for t in profane}
    sharing = [w for w in words if w.lower()[:3] in prefixes and w not in holding and innocent(w) and "'" not in w]
    rng = random.Random(SEED + 1)
    return holding + sorted(rng.sample(sharing, min(DICT_SAMPLE, len(sharing))))


def spelled(word: str, sep: str, upper: bool) -> str:
    text = sep.join(word)
    return text.upper() if upper else text


# --------------------------------------------------------------------------------------------
# Techniques
# --------------------------------------------------------------------------------------------

FORM, SHAPE, MARKS, REPEAT, INSERT = 0, 1, 2, 3, 4

Units = list[str]
Technique = Callable[[Units, random.Random], Units]

TECHNIQUES: dict[str, tuple[int, Technique]] = {}


def technique(name: str, stage: int) -> Callable[[Technique], Technique]:
    """Registers a technique under `name`, applied at `stage` inside combinations."""

    def register(fn: Technique) -> Technique:
        if name in TECHNIQUES:
            raise ValueError(f"technique {name!r} registered twice")
        TECHNIQUES[name] = (stage, fn)
        return fn

    return register


def is_letter_unit(unit: str) -> bool:
    """A unit that still stands for one original letter (not a word break)."""
    return unit != " "


def ascii_letter(unit: str) -> bool:
    return len(unit) == 1 and unit.isascii() and unit.isalpha()


def pick_some(rng: random.Random, indices: list[int], p: float) -> list[int]:
    """Each index with probability p, and at least one when there is any."""
    chosen = [i for i in indices if rng.random() < p]
    if not chosen and indices:
        chosen = [rng.choice(indices)]
    return chosen


def map_some(units: Units, rng: random.Random, p: float, table: dict[str, list[str]]) -> Units:
    """Replaces some units found in `table` (by lowercase) with one of their replacements."""
    out = list(units)
    eligible = [i for i, u in enumerate(out) if u.lower() in table]
    for i in pick_some(rng, eligible, p):
        repl = rng.choice(table[out[i].lower()])
        out[i] = repl.upper() if out[i].isupper() else repl
    return out


def map_all(units: Units, convert: Callable[[str], str]) -> Units:
    return [convert(u) if is_letter_unit(u) else u for u in units]


def words(units: Units) -> list[Units]:
    """Splits units at word breaks."""
    result: list[Units] = [[]]
    for u in units:
        if u == " ":
            result.append([])
        else:
            result[-1].append(u)
    return result


def join_letters(units: Units, rng: random.Random, between: Callable[[], str], word_break: Callable[[], str]) -> Units:
    """Puts `between()` between the letters of each word and `word_break()` between words."""
    out: Units = []
    for w, letters in enumerate(words(units)):
        if w:
            out.append(word_break())
        for k, letter in enumerate(letters):
            if k:
                out.append(between())
            out.append(letter)
    return out


@technique("plain", SHAPE)
def plain(units: Units, rng: random.Random) -> Units:
    """The target as written: the baseline every filter should catch."""
    return list(units)


@technique("case", SHAPE)
def case(units: Units, rng: random.Random) -> Units:
    """UPPER, Title or rAnDoM case."""
    style = rng.choice(["upper", "title", "random"])
    if style == "upper":
        return [u.upper() for u in units]
    if style == "title":
        out, start = [], True
        for u in units:
            out.append(u.upper() if start else u)
            start = u == " "
        return out
    return [u.upper() if rng.random() < 0.5 else u for u in units]


LEET = {"a": ["4", "@"], "e": ["3"], "i": ["1"], "o": ["0"], "s": ["5", "$"], "t": ["7"]}


@technique("leet", SHAPE)
def leet(units: Units, rng: random.Random) -> Units:
    """Common leetspeak digits and symbols: sh1t, a$$hole, fr33."""
    return map_some(units, rng, 0.6, LEET)


LEET_EXTRA = {"i": ["!", "|"], "l": ["|"], "t": ["+"], "c": ["("], "u": ["v"], "a": ["^"]}


@technique("leet_extra", SHAPE)
def leet_extra(units: Units, rng: random.Random) -> Units:
    """Less common substitutions beyond the strict list: sh!t, (ock, fvck, ki||."""
    return map_some(units, rng, 0.6, LEET_EXTRA)


@technique("self_censor", SHAPE)
def self_censor(units: Units, rng: random.Random) -> Units:
    """One vowel starred out, as people self-censor: f*ck, b*tch."""
    out = list(units)
    vowels = [i for i, u in enumerate(out) if u.lower() in "aeiou"]
    if vowels:
        out[rng.choice(vowels)] = "*"
    return out


CONFUSABLES = {
    "a": ["\u0430", "\u03b1"],  # Cyrillic а, Greek α
    "c": ["\u0441", "\u03f2"],  # Cyrillic с, Greek lunate sigma ϲ
    "d": ["\u0501"],  # Cyrillic ԁ
    "e": ["\u0435", "\u0454"],  # Cyrillic е, є
    "h": ["\u04bb"],  # Cyrillic һ
    "i": ["\u0456", "\u03b9"],  # Cyrillic і, Greek ι
    "j": ["\u0458"],  # Cyrillic ј
    "k": ["\u043a", "\u03ba"],  # Cyrillic к, Greek κ
    "o": ["\u043e", "\u03bf"],  # Cyrillic о, Greek ο
    "p": ["\u0440", "\u03c1"],  # Cyrillic р, Greek ρ
    "s": ["\u0455"],  # Cyrillic ѕ
    "u": ["\u03c5"],  # Greek υ
    "v": ["\u03bd"],  # Greek ν
    "w": ["\u051d"],  # Cyrillic ԝ
    "x": ["\u0445", "\u03c7"],  # Cyrillic х, Greek χ
    "y": ["\u0443"],  # Cyrillic у
}


@technique("confusables", SHAPE)
def confusables(units: Units, rng: random.Random) -> Units:
    """Cyrillic and Greek look-alikes for some Latin letters."""
    return map_some(units, rng, 0.5, CONFUSABLES)


@technique("fullwidth", SHAPE)
def fullwidth(units: Units, rng: random.Random) -> Units:
    """Fullwidth forms (U+FF01..U+FF5E) of every ASCII character."""
    return map_all(units, lambda u: "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in u))


MATH_STYLES = [
    "BOLD",
    "ITALIC",
    "BOLD ITALIC",
    "SCRIPT",
    "BOLD SCRIPT",
    "FRAKTUR",
    "DOUBLE-STRUCK",
    "BOLD FRAKTUR",
    "SANS-SERIF",
    "SANS-SERIF BOLD",
    "SANS-SERIF ITALIC",
    "MONOSPACE",
]
# Letters that Unicode encodes outside the mathematical block (the "holes").
MATH_HOLES = {"ITALIC SMALL H": "PLANCK CONSTANT"}
DIGIT_NAMES = ["ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE"]


def styled(prefix: str, style: str, unit: str) -> str:
    """`unit` in a named Unicode style (`MATHEMATICAL BOLD SMALL A`), or unchanged if none."""
    if not ascii_letter(unit) and not (len(unit) == 1 and unit.isdigit()):
        return unit
    if unit.isdigit():
        part = f"DIGIT {DIGIT_NAMES[int(unit)]}"
    else:
        part = f"{'CAPITAL' if unit.isupper() else 'SMALL'} {unit.upper()}"
    key = f"{style} {part}".strip()
    for name in (f"{prefix} {key}".strip(), MATH_HOLES.get(key, ""), key):
        try:
            return unicodedata.lookup(name) if name else unit
        except KeyError:
            continue
    return unit


@technique("math", SHAPE)
def math(units: Units, rng: random.Random) -> Units:
    """Mathematical alphanumerics (𝐛𝐨𝐥𝐝, 𝔣𝔯𝔞𝔨𝔱𝔲𝔯, 𝕕𝕠𝕦𝕓𝕝𝕖 ...), one style per line."""
    style = rng.choice(MATH_STYLES)
    return map_all(units, lambda u: styled("MATHEMATICAL", style, u))


ENCLOSED_STYLES = [
    ("CIRCLED LATIN", False),
    ("PARENTHESIZED LATIN", False),
    ("SQUARED LATIN", True),
    ("NEGATIVE CIRCLED LATIN", True),
    ("NEGATIVE SQUARED LATIN", True),
    ("REGIONAL INDICATOR SYMBOL", True),
]


@technique("enclosed", SHAPE)
def enclosed(units: Units, rng: random.Random) -> Units:
    """Enclosed letters: ⓒⓘⓡⓒⓛⓔⓓ, ⒫⒜⒭⒠⒩, 🅂🅀🅄🄰🅁🄴🄳, 🅝🅔🅖, 🆂🆀, 🇷🇮 regional indicators."""
    style, capitals_only = rng.choice(ENCLOSED_STYLES)

    def convert(u: str) -> str:
        if not ascii_letter(u):
            return u
        letter = u.upper() if capitals_only else u
        if style == "REGIONAL INDICATOR SYMBOL":
            return unicodedata.lookup(f"{style} LETTER {letter.upper()}")
        kind = "CAPITAL" if letter.isupper() else "SMALL"
        return unicodedata.lookup(f"{style} {kind} LETTER {letter.upper()}")

    return map_all(units, convert)


ACCENTS = ["\u0301", "\u0300", "\u0308", "\u0302", "\u0303", "\u030a", "\u0327", "\u0304", "\u030c"]
ZALGO = ACCENTS + ["\u0334", "\u0335", "\u0336", "\u0337", "\u0338", "\u0316", "\u0317", "\u0323", "\u0324", "\u036f"]


@technique("diacritics", MARKS)
def diacritics(units: Units, rng: random.Random) -> Units:
    """Accents on some letters, precomposed (é) where Unicode has it or combining (e + U+0301)."""
    out = list(units)
    for i in pick_some(rng, [i for i, u in enumerate(out) if is_letter_unit(u)], 0.5):
        marked = out[i] + rng.choice(ACCENTS)
        out[i] = unicodedata.normalize("NFC", marked) if rng.random() < 0.5 else marked
    return out


@technique("zalgo", MARKS)
def zalgo(units: Units, rng: random.Random) -> Units:
    """Two to five stacked combining marks on most letters."""
    out = list(units)
    for i in pick_some(rng, [i for i, u in enumerate(out) if is_letter_unit(u)], 0.8):
        out[i] += "".join(rng.choice(ZALGO) for _ in range(rng.randint(2, 5)))
    return out


@technique("repeats", REPEAT)
def repeats(units: Units, rng: random.Random) -> Units:
    """Some letters repeated: fuuuuck, freeeee moneyyy."""
    out: Units = []
    chosen = set(pick_some(rng, [i for i, u in enumerate(units) if is_letter_unit(u)], 0.35))
    for i, u in enumerate(units):
        out.extend([u] * (rng.randint(2, 6) if i in chosen else 1))
    return out


ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]


@technique("zero_width", INSERT)
def zero_width(units: Units, rng: random.Random) -> Units:
    """Invisible characters (ZWSP, ZWNJ, ZWJ, word joiner, BOM, soft hyphen) between letters."""
    return join_letters(units, rng, lambda: rng.choice(ZERO_WIDTH) if rng.random() < 0.8 else "", lambda: " ")


def separator_technique(name: str, choices: list[str], word_breaks: list[str], doc: str) -> None:
    """Registers `name`: separators from `choices` between letters, `word_breaks` between words.

    One word break for the whole line, as people type them (`f.r.e.e m.o.n.e.y` or
    `f.r.e.e.m.o.n.e.y`, not `d.o.u.b.l.e y.o.u.r.b.i.t.c.o.i.n`); a single-separator technique
    keeps one separator too, `sep_mixed` draws one for every gap.
    """

    def sep(units: Units, rng: random.Random) -> Units:
        mark, word_break = rng.choice(choices), rng.choice(word_breaks)
        between = (lambda: rng.choice(choices)) if name == "sep_mixed" else (lambda: mark)
        return join_letters(units, rng, between, lambda: word_break)

    sep.__doc__ = doc
    technique(name, INSERT)(sep)


separator_technique("sep_dot", ["."], [" ", "."], "f.u.c.k, f.r.e.e m.o.n.e.y")
separator_technique("sep_space", [" "], [" ", "  "], "f u c k, f r e e  m o n e y")
separator_technique("sep_dash", ["-"], [" ", "-"], "f-u-c-k")
separator_technique("sep_underscore", ["_"], [" ", "_"], "f_u_c_k")
separator_technique("sep_asterisk", ["*"], [" ", "*"], "f*u*c*k")
separator_technique("sep_mixed", [".", "-", "_", "*", "~", ",", "/", "+", "|"], [" ", "  ", "-", "."], "f.u-c_k, f~r/e*e")


@technique("split", INSERT)
def split(units: Units, rng: random.Random) -> Units:
    """Words broken into pieces by a space or a spaced separator: fu ck, mother fucker, dick. head."""
    out: Units = []
    for w, letters in enumerate(words(units)):
        if w:
            out.append(" ")
        cut = rng.randint(1, len(letters) - 1) if len(letters) >= 2 else None
        for k, letter in enumerate(letters):
            if k == cut:
                out.append(rng.choice([" ", " ", ". ", " - ", "  "]))
            out.append(letter)
    return out


# ---- Issue 15 ("Evasion II"): techniques on single-word abuse targets only, NEW_VARIANTS lines
# each. A technique that does not apply to a target (no `f` to write `ph`) adds no line.

NEW_VARIANTS = 8


def single_word(units: Units) -> bool:
    return " " not in units


def english_forms(word: str) -> list[str]:
    """Regular English inflections, as src/rules/variants.rs `english_forms` makes them before its
    common-word guard: plural, -ed, -ing, -in, -er, -ers, -y; final e dropped, consonant doubled."""
    vowels = "aeiou"
    consonant_y = word.endswith("y") and word[-2:-1] not in vowels
    if word.endswith(("s", "x", "z", "sh", "ch")):
        plural = word + "es"
    elif consonant_y:
        plural = word[:-1] + "ies"
    else:
        plural = word + "s"
    doubles = word[-1] not in vowels + "wxy" and word[-2:-1] in tuple(vowels) and word[-3:-2] not in vowels
    stem = word[:-1] if word.endswith("e") and not word.endswith("ee") else word + word[-1] if doubles else word
    y_stem = word[:-1] + "i" if consonant_y else stem
    return [plural, y_stem + "ed", stem + "ing", stem + "in", y_stem + "er", y_stem + "ers", stem + "y"]


COMMON_WORDS = {
    line.strip()
    for line in (ROOT / "src" / "rules" / "common_words.txt").read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
}


def counted_forms(word: str) -> list[str]:
    """The inflections a target line may use. Labelling choice: a form other than the plural that
    is itself a common English word (`cocked`, `cocky`, `retarded`, `bitching`) is left out: it
    usually means something else, and inflight's guard does not make it either."""
    forms = english_forms(word)
    collapse = lambda w: re.sub(r"(.)\1+", r"\1", w)  # noqa: E731 (as strict writes it)
    return [f for i, f in enumerate(forms) if i == 0 or collapse(f) not in COMMON_WORDS]


@technique("inflection", FORM)
def inflection(units: Units, rng: random.Random) -> Units:
    """A regular inflection of the target: fucking, bitches, shitty, wankers (forms = "en")."""
    if not single_word(units):
        return units
    return list(rng.choice(counted_forms("".join(units))))


def word_with_companion(word: str, rng: random.Random) -> str:
    """The target glued to an ordinary word, as hashtags and handles are written."""
    other = rng.choice(["this", "that", "life", "you", "off", "show", "face", "fest", "monday", "everyone", "fan"])
    style = rng.choice(["#lower", "#Camel", "@snake", "#digits", "@Camel", "#snake"])
    if style == "#lower":
        return "#" + rng.choice([word + other, other + word]) if other in ("this", "you") else "#" + word + other
    if style in ("#Camel", "@Camel"):
        return style[0] + word.capitalize() + other.capitalize()
    if style in ("@snake", "#snake"):
        return style[0] + word + "_" + other
    return "#" + word + rng.choice(["2025", "69", "247", "4life"])


@technique("hashtag", INSERT)
def hashtag(units: Units, rng: random.Random) -> Units:
    """A word inside a hashtag or handle: #fuckthis, #ShitShow, @bitch_face, #cunt2025."""
    if not single_word(units):
        return units
    return [word_with_companion("".join(units), rng)]


PHONETIC = [
    lambda w: w.replace("f", "ph"),
    lambda w: w.replace("ck", "k"),
    lambda w: w[:-2] + "q" if w.endswith("ck") else w,
    lambda w: "".join("k" if c == "c" and w[i + 1 : i + 2] not in ("e", "i", "y", "h", "k") else c for i, c in enumerate(w)),
    lambda w: w.replace("s", "z"),
    lambda w: w[:-2] + "a" if w.endswith("er") else w,
    lambda w: w.replace("itch", rng_choice_itch(w)),
]


def rng_choice_itch(word: str) -> str:
    return "iatch" if len(word) % 2 else "iotch"


@technique("phonetic", SHAPE)
def phonetic(units: Units, rng: random.Random) -> Units:
    """Sound-alike spellings: phuck, fuk, fuq, kunt, azzhole, wanka, biatch."""
    if not single_word(units):
        return units
    word = "".join(units)
    rules = [r for r in PHONETIC if r(word) != word]
    if not rules:
        return units
    for rule in rng.sample(rules, k=min(len(rules), rng.choice([1, 1, 2]))):
        word = rule(word)
    return list(word)


MASKS = ["*", "*", "*", "#", "@", "$", "%", "!"]


@technique("masked", SHAPE)
def masked(units: Units, rng: random.Random) -> Units:
    """Two or more inner letters masked, first and last kept: f**k, b***h, c##t, a**hole."""
    if not single_word(units) or len(units) < 4:
        return units
    inner = list(range(1, len(units) - 1))
    chosen = set(rng.sample(inner, k=rng.randint(2, len(inner))))
    mark = rng.choice(MASKS)
    return [mark if i in chosen else u for i, u in enumerate(units)]


@technique("split_one", INSERT)
def split_one(units: Units, rng: random.Random) -> Units:
    """A split that leaves a one-letter piece: f uck, fuc k, b itch."""
    if not single_word(units):
        return units
    cut = rng.choice([1, len(units) - 1])
    return units[:cut] + [" "] + units[cut:]


EMOJI_LETTERS = {
    "c": ["\u00a9"],
    "r": ["\u00ae"],
    "t": ["\u271d\ufe0f", "\u2020", "7\ufe0f\u20e3"],
    "s": ["\U0001f4b2", "5\ufe0f\u20e3"],
    "o": ["\u2b55", "\U0001f17e\ufe0f", "0\ufe0f\u20e3"],
    "x": ["\u274c"],
    "i": ["\u2757", "1\ufe0f\u20e3"],
    "a": ["4\ufe0f\u20e3"],
    "e": ["3\ufe0f\u20e3"],
}


@technique("emoji", SHAPE)
def emoji(units: Units, rng: random.Random) -> Units:
    """Letters written as emoji and symbols: ©, ®, ✝️, 💲, ⭕, ❗, keycap digits (1️⃣ for i)."""
    return map_some(units, rng, 0.5, EMOJI_LETTERS)


@technique("sep_doubled", INSERT)
def sep_doubled(units: Units, rng: random.Random) -> Units:
    """Doubled or spaced separators: f..u..c..k, f - u - c - k, f__u__c__k."""
    mark = rng.choice(["..", "--", "__", "**", " - ", " . ", ".-", "~~"])
    return join_letters(units, rng, lambda: mark, lambda: " ")


@technique("vowels_dropped", SHAPE)
def vowels_dropped(units: Units, rng: random.Random) -> Units:
    """Every inner vowel left out, typed plainly: fck, mthrfckr, btch."""
    if not single_word(units):
        return units
    kept = [u for i, u in enumerate(units) if i in (0, len(units) - 1) or u not in "aeiou"]
    return kept if len(kept) >= 3 else units


NEW_TECHNIQUES = ["inflection", "hashtag", "phonetic", "masked", "split_one", "emoji", "sep_doubled", "vowels_dropped"]

# Combinations: technique names, applied in stage order whatever order they are listed in.
COMBOS = [
    ("leet", "sep_dot"),
    ("leet", "repeats"),
    ("case", "sep_space"),
    ("confusables", "repeats"),
    ("confusables", "zero_width"),
    ("fullwidth", "sep_dash"),
    ("math", "sep_mixed"),
    ("leet", "diacritics"),
    ("enclosed", "zero_width"),
    ("case", "leet", "sep_mixed"),
    ("confusables", "repeats", "sep_dot"),
    ("math", "repeats", "zero_width"),
    ("case", "diacritics", "sep_underscore"),
    ("leet", "confusables", "repeats"),
    ("inflection", "leet"),
    ("phonetic", "repeats"),
    ("masked", "case"),
    ("inflection", "sep_dot"),
]

# --------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------


def apply(names: tuple[str, ...], target: str, rng: random.Random) -> str:
    units: Units = [" " if c == " " else c for c in target]
    for name in sorted(names, key=lambda n: TECHNIQUES[n][0]):
        units = TECHNIQUES[name][1](units, rng)
    return "".join(units)


def clean(text: str) -> str:
    if any(c in text for c in "\t\n\r"):
        raise ValueError(f"corpus text may not hold tabs or newlines: {text!r}")
    return text


def corpus() -> list[tuple[str, str, str, str]]:
    rng = random.Random(SEED)
    for name in [n for combo in COMBOS for n in combo]:
        if name not in TECHNIQUES:
            raise ValueError(f"COMBOS names unknown technique {name!r}")
    rows: list[tuple[str, str, str, str]] = []
    seen: set[str] = set()

    def add(label: str, tech: str, target: str, text: str) -> None:
        if text not in seen:
            seen.add(text)
            rows.append((label, tech, target, clean(text)))

    for targets, carriers in ((SPAM_TARGETS, SPAM_CARRIERS), (ABUSE_TARGETS, ABUSE_CARRIERS)):
        for target in targets:
            for name in TECHNIQUES:
                new = name in NEW_TECHNIQUES
                if new and targets is SPAM_TARGETS:
                    continue
                for _ in range(NEW_VARIANTS if new else VARIANTS):
                    disguised = apply((name,), target, rng)
                    # A technique with nothing to change in this target (leet on "fuck") adds no line.
                    if disguised != target or name == "plain":
                        add("target", name, target, rng.choice(carriers).format(disguised))
            for combo in COMBOS:
                disguised = apply(combo, target, rng)
                add("target", "combo:" + "+".join(combo), target, rng.choice(carriers).format(disguised))

    for sentence in BENIGN_CHAT:
        add("benign", "chat", "", sentence)
    for carrier in SPAM_CARRIERS + ABUSE_CARRIERS:
        add("benign", "carrier", "", carrier.format(rng.choice(NEUTRAL_WORDS)))
    for sentence in TRAPS_SCUNTHORPE:
        add("trap", "scunthorpe", "", sentence)
    for sentence in TRAPS_JOINED:
        add("trap", "joined", "", sentence)
    for sentence in TRAPS_VARIANT:
        add("trap", "variant", "", sentence)
    for sentence in TRAPS_COLLISION:
        add("trap", "collision", "", sentence)
    for word in dictionary_traps():
        add("trap", "dictionary", "", word)
    for name in NAMES_PLACES:
        for carrier in rng.sample(NAME_CARRIERS, 3):
            add("trap", "names", "", carrier.format(name))
    for word in SPELLED_WORDS:
        for sep in SPELL_STYLES:
            add("trap", "spelled", "", spelled(word, sep, rng.random() < 0.4))
    for kind, items in (("hashtags", HASHTAGS), ("code", CODE), ("urls", URLS), ("emails", EMAILS)):
        for item in items:
            add("trap", kind, "", item)
            add("trap", kind, "", rng.choice(["see ", "look: ", "", "fyi "]) + item + rng.choice(["", " thanks", " !"]))
    for _ in range(120):
        add("trap", "hex", "", "".join(rng.choice("0123456789abcdef") for _ in range(rng.choice([7, 12, 40]))))
    for sentence in CONTRACTIONS:
        add("trap", "contractions", "", sentence)
    for face in EMOTICONS:
        add("trap", "emoticons", "", face)
        add("trap", "emoticons", "", rng.choice(["ok ", "lol ", "fine "]) + face)
    for sentence in STARRED_ONLY:
        add("trap", "starred_only", "", sentence)
    return rows


def corpus_tsv() -> str:
    lines = ["label\ttechnique\ttarget\ttext"]
    lines += ["\t".join(row) for row in corpus()]
    return "\n".join(lines) + "\n"


def toml_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def toml_list(items: list[str], indent: str = "  ") -> str:
    return "[\n" + "".join(f"{indent}{toml_string(i)},\n" for i in items) + "]"


def rules_toml() -> str:
    except_lines = "".join(f"# except {p!r}: {why}\n" for p, why in EXCEPT) or (
        "# No `except` phrase: word mode alone keeps every Scunthorpe trap safe. The traps it flags no\n"
        "# `except` can fix without giving up what it catches: \"who're\" (strict joins it into \"whore\",\n"
        "# the keyword itself), and the texting abbreviations \"cnt\" and \"whre\" (the variants that catch\n"
        "# c*nt and wh*re). See EVASION.md, Limitations.\n"
    )
    return (
        "# GENERATED by scripts/gen_evasion_corpus.py from its TARGETS: edit the script, not this file.\n"
        "#\n"
        "# The rule pack measured by tests/it/evasion.rs (EVASION.md): every target as a keyword,\n"
        "# whole words, at the strictest normalization. inflight's verdict for a corpus line is\n"
        "# 'caught' when the decision is not Allow.\n"
        f"{except_lines}"
        "\n"
        "[pack]\n"
        'name = "evasion"\n'
        'description = "Spam phrases and abuse terms for the evasion-resistance measurement"\n'
        "\n"
        "[[rule]]\n"
        'id = "evasion.spam"\n'
        f"keywords = {toml_list(SPAM_TARGETS)}\n"
        'match = "word"\n'
        'normalize = "strict"\n'
        'tags = ["spam"]\n'
        "\n"
        "[[rule]]\n"
        'id = "evasion.abuse"\n'
        f"keywords = {toml_list(ABUSE_TARGETS)}\n"
        'match = "word"\n'
        'normalize = "strict"\n'
        'forms = "en"\n'
        + (f"except = {toml_list([p for p, _ in EXCEPT])}\n" if EXCEPT else "")
        + 'tags = ["abuse"]\n'
    )


def main() -> int:
    outputs = {OUT_DIR / "corpus.tsv": corpus_tsv(), OUT_DIR / "rules" / "evasion.toml": rules_toml()}
    if "--check" in sys.argv[1:]:
        stale = [p for p, text in outputs.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
        for p in stale:
            print(f"stale: {p.relative_to(ROOT)} (run scripts/gen_evasion_corpus.py)", file=sys.stderr)
        return 1 if stale else 0
    for path, text in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
