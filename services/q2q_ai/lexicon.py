"""The transparent lexicon + rules model (the default `lexicon` provider). Pure, no I/O.

How a text is scored, in full:

1. The (already masked) text is cut into snippets (domain.segment) and each snippet into
   lower-cased word tokens. Contractions are expanded ("didn't" -> "did not", "I'm" -> "i am").
2. Each dimension has cue phrases, each with a *target* (where the phrase points on the
   0..1 scale) and a *weight* (how much it counts). A phrase's last word may end in `*`, a
   prefix match ("welcom*" matches welcome, welcomed, welcoming). Matching runs left to
   right: at each word the longest phrase starting there wins, and its words are not
   matched again for that dimension (so overlaps such as "got a job interview" get a cue of their own).
3. Negation: an odd number of negators ("not", "never", "no", "less", "hardly", ...) in the
   three words before a cue, within the same clause (a comma or "but" ends it), flips the
   target: t -> 1 - t ("not confident", "no longer lonely").
4. Modifiers: the nearest intensifier ("very", "really", ...) or diminisher ("slightly",
   "a bit", ...) in the two words before a cue multiplies its weight. When the cue is also
   negated, an intensifier softens it instead ("not very confident" is milder than "not confident").
5. CEFR levels named in the text (A1..C2) are language_level_proxy cues with fixed targets.
6. Per dimension, the matched cues are aggregated (domain.aggregate): value = weighted mean
   of targets shrunk towards 0.5; confidence = evidence mass x agreement. A dimension with no
   cue is not scored. The explanation lists every matched cue with its snippet, target,
   weight, negation and modifier.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.q2q_ai import domain
from services.q2q_ai.domain import Dimension, Signal, Snippet

VERSION = "1.0.0"

# (phrase, target, weight). Targets: 1.0 = strongly high on the dimension, 0.0 = strongly low.
CUES: Mapping[Dimension, tuple[tuple[str, float, float], ...]] = {
    Dimension.CONFIDENCE: (
        ("confident", 0.85, 1.0), ("more confident", 0.9, 1.2), ("self confident", 0.85, 1.0),
        ("confidence", 0.75, 0.8), ("lost confidence", 0.1, 1.2), ("lost my confidence", 0.1, 1.2),
        ("proud", 0.85, 1.0), ("brave", 0.8, 0.8), ("courage", 0.75, 0.8), ("sure of myself", 0.85, 1.0),
        ("believe in myself", 0.9, 1.2), ("i can do it", 0.85, 1.0), ("i did it", 0.85, 1.0),
        ("dare", 0.75, 0.8), ("dared", 0.75, 0.8), ("took the initiative", 0.8, 1.0), ("speak up", 0.75, 0.8),
        ("comfortable", 0.75, 0.6), ("independent", 0.75, 0.6), ("capable", 0.8, 0.8),
        ("nervous", 0.2, 1.0), ("afraid", 0.15, 1.0), ("scared", 0.15, 1.0), ("fear", 0.2, 0.8),
        ("insecure", 0.1, 1.2), ("shy", 0.3, 0.8), ("anxious", 0.2, 1.0), ("anxiety", 0.2, 1.0),
        ("worried", 0.25, 0.8), ("unsure", 0.25, 0.8), ("doubt myself", 0.1, 1.2), ("embarrass*", 0.25, 0.8),
        ("ashamed", 0.2, 0.8), ("hesitant", 0.3, 0.8), ("overwhelmed", 0.2, 0.8), ("stupid", 0.15, 0.8),
        ("useless", 0.1, 1.0),
    ),
    Dimension.BELONGING: (
        ("welcom*", 0.85, 1.0), ("feel at home", 0.9, 1.2), ("feels at home", 0.9, 1.2), ("felt at home", 0.9, 1.2), ("part of", 0.8, 0.8),
        ("belong", 0.9, 1.2), ("belonging", 0.85, 1.0), ("included", 0.85, 1.0), ("accepted", 0.8, 0.8),
        ("friend", 0.7, 0.6), ("friends", 0.75, 0.6), ("made friends", 0.9, 1.2), ("new friends", 0.85, 1.0),
        ("friendship", 0.75, 0.8), ("community", 0.7, 0.6), ("connected", 0.8, 0.8), ("fit in", 0.85, 1.0),
        ("supported", 0.75, 0.6), ("together", 0.65, 0.4), ("neighbours", 0.65, 0.4), ("neighbors", 0.65, 0.4),
        ("lonely", 0.1, 1.2), ("loneliness", 0.1, 1.2), ("isolated", 0.1, 1.2), ("alone", 0.15, 1.0),
        ("outsider", 0.1, 1.2), ("excluded", 0.1, 1.2), ("left out", 0.1, 1.0), ("homesick", 0.25, 0.8),
        ("discriminat*", 0.05, 1.2), ("racism", 0.05, 1.2), ("ignored", 0.2, 0.8), ("miss home", 0.3, 0.6),
        ("nobody talks to me", 0.1, 1.2), ("no one talks to me", 0.1, 1.2),
    ),
    Dimension.LANGUAGE_LEVEL_PROXY: (
        ("fluent", 0.9, 1.2), ("fluently", 0.9, 1.2), ("understand everything", 0.9, 1.2),
        ("understood everything", 0.9, 1.2), ("understand most", 0.75, 1.0), ("understood most", 0.75, 1.0),
        ("understand", 0.7, 0.6), ("understood", 0.7, 0.6), ("able to follow", 0.75, 0.8),
        ("follow the conversation", 0.75, 1.0), ("express myself", 0.75, 0.8), ("expressed myself", 0.75, 0.8),
        ("without translation", 0.85, 1.0), ("without a translator", 0.85, 1.0), ("new words", 0.6, 0.5),
        ("vocabulary", 0.6, 0.4), ("pronunciation", 0.55, 0.4), ("grammar", 0.55, 0.4),
        ("speak better", 0.75, 0.8), ("speaking better", 0.75, 0.8), ("in norwegian", 0.65, 0.4),
        ("language barrier", 0.2, 1.2), ("hard to understand", 0.2, 1.0), ("difficult to understand", 0.2, 1.0),
        ("translator", 0.25, 0.8), ("interpreter", 0.25, 0.8), ("google translate", 0.25, 0.8),
        ("translation", 0.3, 0.6), ("beginner", 0.2, 0.8), ("basic", 0.3, 0.6), ("misunderst*", 0.3, 0.6),
        ("speak slowly", 0.35, 0.6), ("spoke slowly", 0.35, 0.6), ("repeat", 0.35, 0.5), ("no words", 0.2, 0.8),
    ),
    Dimension.JOB_READINESS: (
        ("job interview", 0.8, 1.0), ("got a job interview", 0.8, 1.0), ("got an interview", 0.8, 1.0), ("interview", 0.7, 0.8), ("interviews", 0.7, 0.8), ("cv", 0.65, 0.6),
        ("resume", 0.65, 0.6), ("résumé", 0.65, 0.6), ("applied for", 0.7, 0.8), ("applying for", 0.7, 0.8),
        ("application", 0.6, 0.5), ("got a job", 0.95, 1.5), ("got the job", 0.95, 1.5), ("hired", 0.95, 1.5),
        ("job offer", 0.95, 1.5), ("offered a job", 0.95, 1.5), ("new job", 0.9, 1.2), ("internship", 0.75, 0.8),
        ("ready to work", 0.85, 1.0), ("ready for work", 0.85, 1.0), ("linkedin", 0.6, 0.5),
        ("work experience", 0.65, 0.6), ("networking", 0.65, 0.6), ("career", 0.6, 0.5), ("skills", 0.6, 0.4),
        ("employer", 0.6, 0.4), ("employers", 0.6, 0.4), ("certificate", 0.7, 0.6), ("certified", 0.7, 0.6),
        ("know how to apply", 0.7, 0.8), ("looking for a job", 0.55, 0.6), ("job search", 0.6, 0.6),
        ("job hunting", 0.6, 0.6), ("unemployed", 0.2, 1.0), ("lost my job", 0.25, 0.8), ("rejected", 0.3, 0.6),
        ("no experience", 0.25, 0.8), ("not ready", 0.2, 1.0),
    ),
}
# CEFR levels named in the text: a direct statement of language level.
CEFR_TARGETS: Mapping[str, float] = {"a1": 0.1, "a2": 0.25, "b1": 0.45, "b2": 0.65, "c1": 0.85, "c2": 0.95}
CEFR_WEIGHT = 1.5

NEGATORS = frozenset("not no never nobody nothing neither nor without hardly barely scarcely less lack lacking".split())
CLAUSE_BREAKS = frozenset({",", ";", ":", "—", "–", "(", ")", "but", "however", "although", "though", "yet"})
INTENSIFIERS: Mapping[str, float] = {
    "very": 1.5, "really": 1.5, "so": 1.3, "extremely": 1.8, "super": 1.5, "totally": 1.5, "completely": 1.6,
    "truly": 1.4, "incredibly": 1.8, "much": 1.3, "more": 1.2, "quite": 1.2, "always": 1.3,
}
DIMINISHERS: Mapping[str, float] = {
    "slightly": 0.5, "somewhat": 0.6, "bit": 0.6, "little": 0.6, "kinda": 0.6, "partly": 0.6, "sometimes": 0.7,
}
NEGATION_WINDOW = 3
MODIFIER_WINDOW = 2
NEGATED_INTENSIFIER = 0.7

_CONTRACTIONS = {
    "can't": ("can", "not"), "cannot": ("can", "not"), "won't": ("will", "not"), "shan't": ("shall", "not"),
    "i'm": ("i", "am"), "im": ("i", "am"),
}
_SUFFIXES = {"'re": "are", "'ve": "have", "'ll": "will", "'d": "would", "'m": "am"}
_S_IS = frozenset({"it", "that", "there", "he", "she", "what", "name", "who", "here"})
_TOKEN_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*|[^\w\s]")


@dataclass(frozen=True)
class Token:
    word: str
    start: int  # character offsets in the snippet
    end: int


def tokenize(text: str) -> list[Token]:
    """Lower-cased word and punctuation tokens with their spans; contractions expanded."""
    tokens: list[Token] = []
    for m in _TOKEN_RE.finditer(text):
        raw = m.group().lower().replace("’", "'")
        s, e = m.start(), m.end()
        if raw in _CONTRACTIONS:
            tokens.extend(Token(w, s, e) for w in _CONTRACTIONS[raw])
        elif raw.endswith("n't"):
            tokens.extend((Token(raw[:-3], s, e), Token("not", s, e)))
        elif "'" in raw:
            head, _, tail = raw.partition("'")
            tokens.append(Token(head, s, e))
            suffix = _SUFFIXES.get("'" + tail)
            if suffix:
                tokens.append(Token(suffix, s, e))
            elif tail == "s" and head in _S_IS:
                tokens.append(Token("is", s, e))
        else:
            tokens.append(Token(raw, s, e))
    return tokens


@dataclass(frozen=True)
class Cue:
    dimension: Dimension
    phrase: str
    words: tuple[str, ...]
    target: float
    weight: float

    def matches(self, tokens: Sequence[Token], at: int) -> bool:
        if at + len(self.words) > len(tokens):
            return False
        for want, token in zip(self.words, tokens[at:at + len(self.words)], strict=True):
            if want.endswith("*"):
                if not token.word.startswith(want[:-1]):
                    return False
            elif token.word != want:
                return False
        return True


class Lexicon:
    """The cue tables, indexed for matching. Build once; matching is pure and deterministic."""

    def __init__(self, cues: Mapping[Dimension, Sequence[tuple[str, float, float]]] = CUES) -> None:
        self.cues: dict[Dimension, tuple[Cue, ...]] = {}
        self._index: dict[Dimension, dict[str, list[Cue]]] = {}
        self._prefixed: dict[Dimension, list[Cue]] = {}
        for dimension in domain.DIMENSIONS:
            built = []
            for phrase, target, weight in cues.get(dimension, ()):
                if not (0 <= target <= 1 and weight > 0):
                    raise ValueError(f"cue {phrase!r}: target must be in [0, 1] and weight > 0")
                words = tuple(phrase.split())
                if not words or any([t.word for t in tokenize(w.rstrip("*"))] != [w.rstrip("*")] for w in words):
                    raise ValueError(f"cue {phrase!r}: write cues as lower-case words, contractions expanded")
                built.append(Cue(dimension, phrase, words, target, weight))
            # Longest phrase first, then alphabetical: a fixed, documented matching order.
            built.sort(key=lambda c: (-len(c.words), c.phrase))
            self.cues[dimension] = tuple(built)
            index: dict[str, list[Cue]] = {}
            for cue in built:
                if not cue.words[0].endswith("*"):
                    index.setdefault(cue.words[0], []).append(cue)
            self._index[dimension] = index
            self._prefixed[dimension] = [c for c in built if c.words[0].endswith("*")]

    def config(self) -> dict[str, Any]:
        """Everything that decides this model's output, for the model_version hash."""
        return {
            "cues": {d.value: [[c.phrase, c.target, c.weight] for c in self.cues[d]] for d in domain.DIMENSIONS},
            "cefr": dict(CEFR_TARGETS), "cefr_weight": CEFR_WEIGHT,
            "negators": sorted(NEGATORS), "clause_breaks": sorted(CLAUSE_BREAKS),
            "intensifiers": dict(INTENSIFIERS), "diminishers": dict(DIMINISHERS),
            "negation_window": NEGATION_WINDOW, "modifier_window": MODIFIER_WINDOW,
            "negated_intensifier": NEGATED_INTENSIFIER,
            "prior_weight": domain.PRIOR_WEIGHT, "mass_scale": domain.MASS_SCALE, "decimals": domain.DECIMALS,
            "segmentation": domain.SEGMENTATION_VERSION, "max_snippet_chars": domain.MAX_SNIPPET_CHARS,
            "masking": domain.MASK_VERSION,
        }

    def _candidates(self, dimension: Dimension, word: str) -> list[Cue]:
        exact = self._index[dimension].get(word, [])
        prefixed = [c for c in self._prefixed[dimension] if word.startswith(c.words[0][:-1])]
        if not prefixed:
            return exact
        return sorted(exact + prefixed, key=lambda c: (-len(c.words), c.phrase))

    def signals(self, snippets: Sequence[Snippet]) -> dict[Dimension, list[Signal]]:
        found: dict[Dimension, list[Signal]] = {d: [] for d in domain.DIMENSIONS}
        for snippet in snippets:
            tokens = tokenize(snippet.text)
            for dimension in domain.DIMENSIONS:
                found[dimension].extend(self._match(dimension, snippet, tokens))
            found[Dimension.LANGUAGE_LEVEL_PROXY].extend(_cefr(snippet, tokens))
        for dimension in found:
            found[dimension].sort(key=lambda s: (s.snippet, s.why["at"]))
        return found

    def _match(self, dimension: Dimension, snippet: Snippet, tokens: list[Token]) -> list[Signal]:
        out, i = [], 0
        while i < len(tokens):
            hit = next((c for c in self._candidates(dimension, tokens[i].word) if c.matches(tokens, i)), None)
            if hit is None:
                i += 1
                continue
            out.append(_signal(hit.phrase, hit.target, hit.weight, snippet, tokens, i, i + len(hit.words)))
            i += len(hit.words)
        return out

    def analyse(self, masked_text: str) -> domain.Analysis:
        snippets = domain.segment(masked_text)
        return domain.score_signals(snippets, self.signals(snippets))


def _cefr(snippet: Snippet, tokens: list[Token]) -> list[Signal]:
    return [
        _signal(t.word.upper(), CEFR_TARGETS[t.word], CEFR_WEIGHT, snippet, tokens, i, i + 1, negatable=False)
        for i, t in enumerate(tokens) if t.word in CEFR_TARGETS
    ]


def _clause_before(tokens: list[Token], start: int, window: int) -> list[str]:
    """Up to `window` words before `start`, nearest first, stopping at a clause break."""
    words = []
    for token in reversed(tokens[max(0, start - window):start]):
        if token.word in CLAUSE_BREAKS:
            break
        words.append(token.word)
    return words


def _signal(phrase: str, target: float, weight: float, snippet: Snippet, tokens: list[Token], start: int, end: int,
            *, negatable: bool = True) -> Signal:
    before = _clause_before(tokens, start, NEGATION_WINDOW)
    negators = [w for w in before if w in NEGATORS] if negatable else []
    negated = len(negators) % 2 == 1
    modifier, factor = None, 1.0
    for word in before[:MODIFIER_WINDOW]:
        if word in INTENSIFIERS or word in DIMINISHERS:
            modifier = word
            factor = INTENSIFIERS.get(word) or DIMINISHERS[word]
            break
    if negated and factor > 1:
        factor = NEGATED_INTENSIFIER
    final_target = round(1 - target if negated else target, domain.DECIMALS)
    final_weight = round(weight * factor, domain.DECIMALS)
    why = {
        "cue": phrase,
        "snippet": snippet.index,
        "at": tokens[start].start,
        "matched": snippet.text[tokens[start].start:tokens[end - 1].end],
        "target": final_target,
        "weight": final_weight,
        "negated": negated,
        "modifier": modifier,
    }
    return Signal(final_target, final_weight, snippet.index, why)


DEFAULT_LEXICON = Lexicon()
