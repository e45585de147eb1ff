"""Query understanding: what to search the papers for, given what a user typed.

Users ask "Which paper proposes ...", "tell me about SoFar", "what does TSP stand
for in ...", with typos and in lower case. The abstracts say "Travelling Salesman
Problem" and never "paper that proposes". `QueryAnalyzer` turns a question into
search text for the retrievers:

- question boilerplate is stripped ("Which paper ...", "Is there work on ...",
  "I'm looking for ...", "tell me about ..."), since it matches every abstract a little;
- acronyms are expanded both ways, from the "Long Form (LF)" pairs the abstracts
  themselves define plus a short list of common ones;
- a word the corpus never uses that is one edit from a word it does (a typo) gains
  that word;
- name-like words of paper titles ("SoFar", "HYPO", "MM-Lego") that the question
  mentions are found, so a question naming a paper is known to name it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

WORD = re.compile(r"(?u)\b\w\w+\b")
NAME_WORD = re.compile(r"[\w]+")  # the words a lower-cased name or question is matched on
NAME_TOKEN = re.compile(r"[A-Za-z0-9][\w\-]*[A-Za-z0-9]|[A-Za-z0-9]")
INTRODUCES = re.compile(
    r"\b(?:we|this (?:paper|work)|our)\b.{0,60}?"
    r"\b(?:propose|introduce|present|describe|develop|call|dub|name|term|design)",
    re.IGNORECASE,
)
# A capitalised name of up to four words: "DINO", "mip-NeRF", "Progressive GAN", "Network in Network"
_CAPITALISED = r"[\w\-.]*[A-Z][\w\-.]*[A-Za-z0-9]"
_NAME_WORDS = _CAPITALISED + r"(?:\s+(?:(?:in|of|for|and|is|not)\s+)?[A-Z][\w\-.]*[A-Za-z0-9]){0,3}"
# "the BERT paper", "the original GAN paper", "which paper introduced GraphSAGE": a paper asked for by name
ASKS_BY_NAME = re.compile(
    r"\b(?:the|original|of)\s+(?:original\s+)?([\w\-.]+(?:\s+[\w\-.]+){0,2}?)\s+paper\b"
    r"|\b(?:introduced|proposed|invented|introducing|proposing)\s+(?:the\s+)?['\"\u2018\u201c]?(" + _NAME_WORDS + ")",
)
# "what is DARTS?", "explain Deep Sets", "how does DINO work": a question about one named thing
ASKS_ABOUT = re.compile(
    r"^\s*(?i:what(?:'s|\s+is|\s+are|\s+does|\s+problem\s+does|\s+task\s+does)|explain|describe|tell\s+me\s+about"
    r"|how\s+(?:well\s+)?(?:does|do|did))\s+(?:the\s+)?['\"\u2018\u201c]?([\w\-.]*[A-Z0-9][\w\-.]*"
    r"(?:\s+(?:(?:in|of|for|and|is|not)\s+)?[A-Z][\w\-.]*){0,3})"
)
# "what is capsule networks?", "explain layer normalization": a short question about one lower-case topic
ASKS_ABOUT_TOPIC = re.compile(
    r"^\s*(?i:what(?:'s|\s+is|\s+are)|explain|describe|tell\s+me\s+about|how\s+(?:does|do)"
    r"|which\s+paper\s+(?:introduced|proposed))\s+(?i:the\s+|a\s+|an\s+)?"
    r"([a-z][a-z0-9\-]+(?:\s+[A-Za-z0-9\-]+){0,3}?)(?i:\s+work)?\s*[?.!]*\s*$"
)
# Words that end a topic without naming it: "the clustering part" is about clustering.
GENERIC_HEADS = frozenset(
    [
        "part",
        "parts",
        "idea",
        "method",
        "methods",
        "approach",
        "model",
        "technique",
        "trick",
        "step",
        "component",
        "module",
        "mechanism",
        "framework",
        "algorithm",
        "thing",
        "bit",
        "piece",
    ]
)
MAX_NAME_PAPERS = 2  # a coined word of more abstracts than this is a well-known name, not one paper's
MIN_TYPO_NAME = 5  # shorter names are too close to other words to guess from a misspelling
MIN_TYPO_WORD = 6  # an everyday word shorter than this has too many neighbours one edit away
MAX_NAME_DF = 6  # chunks a one-word title name may appear in and still name its paper
PARENTHESISED = re.compile(r"\(([A-Z][A-Za-z0-9\-]{1,11}?)(s)?\)")
# Words that ask *about* something without saying what: "what problem does X solve", "how well does X work".
ASKING_WORDS = frozenset(
    [
        "what",
        "which",
        "who",
        "how",
        "why",
        "when",
        "where",
        "is",
        "are",
        "was",
        "were",
        "does",
        "do",
        "did",
        "can",
        "could",
        "would",
        "will",
        "should",
        "the",
        "a",
        "an",
        "about",
        "tell",
        "me",
        "explain",
        "describe",
        "summarize",
        "summarise",
        "overview",
        "summary",
        "of",
        "in",
        "on",
        "for",
        "paper",
        "papers",
        "work",
        "works",
        "method",
        "model",
        "approach",
        "idea",
        "it",
        "its",
        "this",
        "that",
        "well",
        "good",
        "problem",
        "problems",
        "solve",
        "solves",
        "solved",
        "propose",
        "proposes",
        "proposed",
        "introduce",
        "introduces",
        "contribution",
        "contributions",
        "main",
        "key",
        "used",
        "use",
        "uses",
        "mean",
        "means",
        "stand",
        "stands",
        "purpose",
        "goal",
        "point",
        "doing",
        "achieve",
        "achieves",
        "result",
        "results",
        "perform",
        "performs",
        "performance",
    ]
)

# Leading phrasings that say "find me a paper", not what the paper is about.
_LEADS = [
    r"(?:hi|hey|hello)\b[,!.]*",
    r"(?:can|could) you (?:please )?",
    r"please ",
    r"(?:tell me|teach me|explain|describe|summari[sz]e|give me (?:an? )?(?:overview|summary) of)(?: more)?(?: about)?",
    r"i(?:'m| am) (?:looking|searching) for (?:a |an |any |the |some )?(?:paper|work|study|article|research)?s?"
    r"(?: that| which| on| about| where)?",
    r"(?:is|are) there (?:any |a |an |some )?(?:paper|work|study|studies|article|research)s?"
    r"(?: (?:in here|here|in the (?:list|corpus|collection)))?(?: that| which| on| about| where| for)?",
    r"(?:any|a) (?:paper|work|study|article)s? (?:that|which|on|about|where)",
    r"(?:which|what) (?:paper|papers|work|works|study|studies|article|articles|research)"
    r"(?: (?:proposes?|introduces?|presents?|describes?|shows?|studies|uses?|is about|talks about|discusses|"
    r"looks at|has|does|did|explores?|tackles?|addresses|covers?))?",
    r"(?:find|show) me (?:a |the |any )?(?:paper|work|study)?s?(?: that| which| on| about)?",
    r"what (?:is|are|was|were) the (?:paper|work|study) (?:that|which|about|on)",
]
LEAD = re.compile(r"^\s*(?:" + "|".join(_LEADS) + r")\s*[:,]?\s*", re.IGNORECASE)
TRAIL = re.compile(
    r"\s*(?:\b(?:in (?:here|the (?:list|corpus|collection|papers))|in these papers|among (?:these|the) papers)\b)?"
    r"\s*[?.!]*\s*$",
    re.IGNORECASE,
)
PAPER_NAMED = re.compile(
    r"^\s*what (?:does|did|do) (?:the )?(.{2,60}?) (?:paper|work|method|model|approach)s? "
    r"(?:propose|do|say|introduce|present|show|find|contribute|claim)\s*[?.!]*\s*$",
    re.IGNORECASE,
)

# Common abbreviations the abstracts may use without spelling out (or the reverse).
COMMON_ACRONYMS: dict[str, str] = {
    "ai": "artificial intelligence",
    "asr": "automatic speech recognition",
    "cnn": "convolutional neural network",
    "cot": "chain of thought",
    "cv": "computer vision",
    "dpo": "direct preference optimization",
    "gan": "generative adversarial network",
    "gnn": "graph neural network",
    "gpu": "graphics processing unit",
    "icl": "in-context learning",
    "kd": "knowledge distillation",
    "kg": "knowledge graph",
    "llm": "large language model",
    "lm": "language model",
    "lmm": "large multimodal model",
    "lora": "low-rank adaptation",
    "mlp": "multilayer perceptron",
    "mllm": "multimodal large language model",
    "moe": "mixture of experts",
    "mt": "machine translation",
    "nerf": "neural radiance field",
    "ner": "named entity recognition",
    "nlp": "natural language processing",
    "ocr": "optical character recognition",
    "ood": "out-of-distribution",
    "qa": "question answering",
    "rag": "retrieval-augmented generation",
    "rl": "reinforcement learning",
    "rlhf": "reinforcement learning from human feedback",
    "rnn": "recurrent neural network",
    "sae": "sparse autoencoder",
    "sft": "supervised fine-tuning",
    "sota": "state of the art",
    "ssl": "self-supervised learning",
    "ssm": "state space model",
    "tsp": "travelling salesman problem",
    "tts": "text to speech",
    "vae": "variational autoencoder",
    "vit": "vision transformer",
    "vlm": "vision-language model",
    "vla": "vision-language-action",
    "vqa": "visual question answering",
}


def _initials_match(short: str, words: Sequence[str]) -> bool:
    """Schwartz-Hearst style: the short form's letters appear in order in the long form,
    the first one starting its first word."""
    letters = [c.lower() for c in short if c.isalnum()]
    text = " ".join(words).lower()
    if not letters or not text or text[0] != letters[0]:
        return False
    pos = 0
    for letter in letters:
        pos = text.find(letter, pos)
        if pos < 0:
            return False
        pos += 1
    return True


def mine_acronyms(texts: Iterable[str]) -> dict[str, str]:
    """ "Large Language Models (LLMs)" -> {"llm": "large language models"} from the abstracts."""
    found: dict[str, str] = {}
    for text in texts:
        for match in PARENTHESISED.finditer(text):
            short = match.group(1)
            letters = sum(c.isalpha() for c in short)
            if letters < 2 or sum(c.isupper() for c in short) < 2:
                continue
            before = re.findall(r"[\w\-]+", text[: match.start()])[-(len(short) + 2) :]
            best = None
            for size in range(1, len(before) + 1):  # the shortest tail whose initials spell it
                if _initials_match(short, before[-size:]):
                    best = before[-size:]
                    break
            if best:
                found.setdefault(short.lower(), " ".join(best).lower())
    return found


def respell(text: str, spelled: dict[str, str]) -> str:
    """`text` with each misspelt name (as `QueryAnalyzer.misspelt_names` found them) replaced."""
    for word, name in spelled.items():
        text = re.sub(r"(?<![\w\-])" + re.escape(word) + r"(?![\w\-])", name, text)
    return text


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _one_edit_from(word: str, by_deletion: dict[str, list[str]]) -> set[str]:
    """The words of a deletion index (word -> its one-letter deletions) one edit from `word`:
    a substitution, insertion, deletion or swap."""
    candidates = {c for key in _deletes(word) | {word} for c in by_deletion.get(key, ())}
    return {c for c in candidates if _edit_distance_at_most_one(word, c)}


@dataclass(frozen=True)
class Query:
    """A question as the retrievers see it."""

    question: str  # as typed (cleaned of control characters)
    text: str  # boilerplate stripped: what is embedded
    expansions: list[str] = field(default_factory=list)  # acronym long/short forms and typo repairs
    named: list[str] = field(default_factory=list)  # ids of papers whose name-like title word it mentions
    named_in_abstract: list[str] = field(default_factory=list)  # ids of papers whose abstract coins a name it uses
    famous: list[str] = field(default_factory=list)  # coined names it uses that many abstracts mention (baselines)
    asked_names: list[str] = field(default_factory=list)  # "the BERT paper" -> ["bert"]: papers asked for by name
    only_name: list[str] = field(default_factory=list)  # ids named by a question that asks about nothing else
    asked_topic: str = ""  # "what is capsule networks?" -> "capsule networks": a short question's one topic
    spelled: dict[str, str] = field(default_factory=dict)  # a misspelt name as typed -> the name searched for

    @property
    def lexical_text(self) -> str:
        """What BM25 scores: the stripped question plus its expansions."""
        return " ".join([self.text, *self.expansions])

    @property
    def dense_text(self) -> str:
        """What is embedded: the stripped question plus acronym expansions in brackets."""
        return f"{self.text} ({'; '.join(self.expansions)})" if self.expansions else self.text


class QueryAnalyzer:
    """Built once per index from the papers' texts and the BM25 vocabulary."""

    def __init__(
        self,
        abstracts: dict[str, str],
        titles: dict[str, str],
        vocabulary: dict[str, int],
        stop_words: frozenset[str] = frozenset(),
    ) -> None:
        self.acronyms = {**COMMON_ACRONYMS, **mine_acronyms(abstracts.values())}
        self.long_forms = {long: short for short, long in self.acronyms.items()}
        self.vocabulary = vocabulary
        self.stop_words = stop_words
        coined = coined_words(abstracts)
        self.abstract_names = abstract_names(abstracts, coined=coined)
        self.coined_papers = {n: len(p) for n, p in coined.items()}
        # a one-word name that is also an everyday word of the abstracts ("Mask") names nothing
        self.title_names = {
            name: pids
            for name, pids in title_names(titles).items()
            if not re.fullmatch(r"\w+", name) or vocabulary.get(name, 0) <= MAX_NAME_DF
        }

    # Never "corrected" (the retriever sets them): famous names outside the collection (rag.landmarks),
    # and everyday English words (the embedder's vocabulary: "money" is not a misspelt "Monet").
    known_names: frozenset[str] = frozenset()
    common_words: frozenset[str] = frozenset()

    def analyze(
        self, question: str, strip: bool = True, expand: bool = True, absent: Collection[str] = frozenset()
    ) -> Query:
        """`absent`: ids of papers to read the question as if they were gone (deleted, not yet reloaded):
        a question naming one of them asks about something the collection does not hold."""
        typed, question = question, plain_question(question)
        spelled = self.misspelt_names(question)
        spelled |= self.misspelt_words(question, skip=spelled)
        question = respell(question, spelled)
        text = strip_boilerplate(question) if strip else question.strip()
        lowered = text.lower()
        words = WORD.findall(lowered)
        expansions = self._expansions(lowered, words) if expand else []
        named_as = [
            name
            for word in dict.fromkeys(NAME_WORD.findall(lowered))
            for name in self._names_by_first_word.get(word, ())
            if contains_token(lowered, name)
        ]
        named = [pid for name in named_as for pid in self.title_names[name] if pid not in absent]
        coined = [
            pid
            for word in NAME_TOKEN.findall(text)
            if any(_coined(part) for part in word.split("-")) or self._rare_lower_case(word)
            for pid in self.abstract_names.get(word.lower(), ())
            if pid not in absent
        ]
        famous = [
            word.lower()
            for word in NAME_TOKEN.findall(text)
            if self.coined_papers.get(word.lower(), 0) > MAX_NAME_PAPERS
            and any(_coined(p) for p in word.split("-"))
            and word.lower().removesuffix("s") not in COMMON_ACRONYMS
        ]
        asked = [
            (m.group(1) or m.group(2)).lower()
            for m in ASKS_BY_NAME.finditer(question)
            if (m.group(1) or m.group(2)).lower() not in {"this", "that", "a", "an", "which", "what", "same"}
            and not _describes(m.group(1) or "")
        ]
        subject = self._asked_about(question)
        if subject and subject not in asked:
            asked.append(subject)
        name_words = [w for w in NAME_TOKEN.findall(text) if w.lower() not in ASKING_WORDS]
        named_here = [*named, *coined]
        # "How well does The Same But Different work?": nothing asked but a (multi-word) title name
        rest = [w for w in name_words if not any(contains_token(name, w.lower()) for name in named_as)]
        only_name = named_here if named_here and (len(name_words) == 1 or not rest) else []
        return Query(
            question=typed,
            spelled=spelled,
            only_name=list(dict.fromkeys(only_name)),
            text=text,
            expansions=expansions,
            asked_names=list(dict.fromkeys(asked)),
            asked_topic="" if named_here else self._asked_topic(question),  # "what's special about VanillaNet"
            famous=list(dict.fromkeys(famous)),
            named=list(dict.fromkeys(named)),
            named_in_abstract=[pid for pid in dict.fromkeys(coined) if pid not in named],
        )

    def _asked_topic(self, question: str) -> str:
        """The lower-case topic of a short "what is X" question, when X is more than a stop word."""
        about = ASKS_ABOUT_TOPIC.match(question)
        if not about:
            return ""
        words = about.group(1).split()
        while len(words) > 1 and words[-1].lower() in GENERIC_HEADS:  # "the constrained clustering part"
            words.pop()
        topic = " ".join(words)
        if all(w in self.stop_words or w in ASKING_WORDS for w in words) or len(topic) < 4:
            return ""
        return topic

    def _rare_lower_case(self, word: str) -> bool:
        """ "pcme", "kilogram": a paper's coined name typed in lower case, not an everyday word.

        Rare here means in at most MAX_NAME_DF chunks (the rule title names follow).
        """
        return (
            word.isalnum()
            and word.islower()
            and len(word) >= 3
            and word not in ASKING_WORDS
            and word not in self.stop_words
            and self.vocabulary.get(word, 0) <= MAX_NAME_DF
        )

    def _asked_about(self, question: str) -> str | None:
        """The name a "what is X" / "explain X" / "how does X work" question asks about, if X is one.

        Not a name: what many papers are about ("LLMs", "SAEs") or a common word that
        happens to be capitalised ("Transformers", "Attention").
        """
        about = ASKS_ABOUT.match(question)
        if not about or not any(c.isupper() or c.isdigit() for c in about.group(1)):
            return None
        subject = about.group(1).rstrip(".").lower()
        singular = subject.removesuffix("s")
        papers = max(self.coined_papers.get(subject, 0), self.coined_papers.get(singular, 0))
        if singular in COMMON_ACRONYMS or papers > MAX_NAME_PAPERS:
            return None
        if " " not in subject and not _coined(about.group(1)) and self.vocabulary.get(subject, 0) > MAX_NAME_DF:
            return None
        return subject

    def _expansions(self, lowered: str, words: list[str]) -> list[str]:
        """Acronym long forms, short forms of spelled-out terms, and typo repairs."""
        expansions: list[str] = []
        for word in dict.fromkeys(words):
            singular = word[:-1] if word.endswith("s") and word[:-1] in self.acronyms else word
            long = self.acronyms.get(singular)
            if long and long not in lowered:
                expansions.append(long)
            elif word not in self.vocabulary and word not in self.stop_words and (fix := self.repair(word)):
                expansions.append(fix)
        for long, short in self.long_forms.items():
            if " " in long and long in lowered and short not in words:
                expansions.append(short)
        return expansions

    @cached_property
    def _names_by_first_word(self) -> dict[str, list[str]]:
        """Title names by their first word: a question is matched against the names its words start,
        not against every name of the corpus (50,000 papers: 0.4 s a question the other way)."""
        index: dict[str, list[str]] = {}
        for name in self.title_names:
            first = NAME_WORD.findall(name)
            if first:
                index.setdefault(first[0], []).append(name)
        return index

    @cached_property
    def _by_deletion(self) -> dict[str, list[str]]:
        """Corpus words by each one-letter deletion: built on the first question with an unknown
        long word to mend (0.13 s on the seeds), not at start-up."""
        index: dict[str, list[str]] = {}
        for term in self.vocabulary:
            if len(term) >= 4 and term.isalpha():
                for key in _deletes(term) | {term}:
                    index.setdefault(key, []).append(term)
        return index

    @cached_property
    def _names_by_deletion(self) -> dict[str, list[str]]:
        """One-word paper names (title or coined, 5+ letters) by each one-letter deletion."""
        index: dict[str, list[str]] = {}
        for name in {*self.title_names, *self.abstract_names}:
            if len(name) >= MIN_TYPO_NAME and name.isalpha() and self.vocabulary.get(name, 0) <= MAX_NAME_DF:
                for key in _deletes(name) | {name}:
                    index.setdefault(key, []).append(name)
        return index

    def misspelt_names(self, question: str) -> dict[str, str]:
        """ "What is SPALDE?" -> {"SPALDE": "splade"}: words one edit from exactly one paper's name.

        Only words the corpus never uses are corrected, never an English word of `common_words`
        or a famous name of `known_names` ("ConvNeXt" is not a misspelt "ConvNet"), and only into
        a name that is no everyday word of the chunks. Letters only: "GPT-3" is not "GPT-4".
        """

        spelled: dict[str, str] = {}
        for word in NAME_TOKEN.findall(question):
            lowered = word.lower()
            if (
                len(lowered) < MIN_TYPO_NAME
                or not lowered.isalpha()
                or lowered in self.known_names
                or lowered in self.common_words
                or lowered in self.vocabulary
                or lowered in self.title_names
                or lowered in self.abstract_names
            ):
                continue
            candidates = _one_edit_from(lowered, self._names_by_deletion)
            if len(candidates) == 1:
                spelled[word] = candidates.pop()
        return spelled

    def misspelt_words(self, question: str, skip: dict[str, str] | None = None) -> dict[str, str]:
        """ "reasoinng" -> "reasoning": an everyday word typed wrong, mended so that it counts as known.

        Only a lower-case word of MIN_TYPO_WORD+ letters that no chunk uses and that is no English
        word (`common_words`) or famous name is mended, into a corpus word one slip of the keys
        away (`_slip_of_the_keys`) that is an English word or an everyday word of the chunks (in
        more than MAX_NAME_DF): a term the papers lack is not made into one paper's coined name.
        (English words the corpus lacks are no candidates: "juggle" would become "jungle".)
        Without `common_words` (an embedder with no vocabulary) nothing is mended.
        """
        spelled: dict[str, str] = {}
        if not self.common_words:
            return spelled
        for word in WORD.findall(question):
            lowered = word.lower()
            if (
                (skip and word in skip)
                or len(lowered) < MIN_TYPO_WORD
                or not lowered.isalpha()
                or not (word.islower() or word[1:].islower())  # "reasoinng", "Reasoinng"; never "SPALDE"
                or lowered in self.vocabulary
                or lowered in self.common_words
                or lowered in self.known_names
            ):
                continue
            stems = self._known_stems(lowered)  # "detects" is detect's, never a typo of "defects"
            candidates = [
                c
                for c in _one_edit_from(lowered, self._by_deletion)
                if (c in self.common_words or self.vocabulary.get(c, 0) > MAX_NAME_DF)
                and _slip_of_the_keys(lowered, c)
                and (not stems or any(stem in c for stem in stems))  # "embeding": embed's, so "embedding"
            ]
            if candidates:
                spelled[word] = max(sorted(candidates), key=lambda c: self.vocabulary.get(c, 0))
        return spelled

    def _known_stems(self, word: str) -> set[str]:
        """ "detects" -> {"detect"}, "retraining" -> {"training"}: known words it may inflect."""
        stems = {word[: -len(end)] for end in _ENDINGS if word.endswith(end)}
        stems |= {stem + "e" for stem in stems} | {stem[:-1] for stem in stems if stem[-1:] == stem[-2:-1]}
        stems |= {word[len(start) :] for start in _PREFIXES if word.startswith(start)}
        return {s for s in stems if len(s) >= 4 and (s in self.common_words or s in self.vocabulary)}

    def repair(self, word: str) -> str | None:
        """The corpus word one edit away from an unknown word (the most frequent one), if any."""
        if len(word) < 5 or not word.isalpha():
            return None
        candidates = _one_edit_from(word, self._by_deletion)
        if not candidates:
            return None
        return max(sorted(candidates), key=lambda c: self.vocabulary.get(c, 0))


_ENDINGS = ("s", "es", "ed", "d", "ing", "er", "ers", "ly", "ment", "ments", "ness", "ise", "ize")
_PREFIXES = ("re", "pre", "un", "non", "de", "dis", "mis", "over", "under", "sub", "co", "multi", "self")
_KEYBOARD = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
_NEIGHBOURS = {
    key: {
        _KEYBOARD[r][c]
        for r in range(max(row - 1, 0), min(row + 2, 3))
        for c in (col - 1, col, col + 1)
        if 0 <= c < len(_KEYBOARD[r]) and (r, c) != (row, col)
    }
    for row, line in enumerate(_KEYBOARD)
    for col, key in enumerate(line)
}


def _slip_of_the_keys(typed: str, word: str) -> bool:
    """Could `typed` be `word` with one slip of the fingers inside it (not at its first letter or its end)?

    Swapped letters, a dropped letter, a doubled or neighbouring extra key, or a neighbouring
    key hit instead. A different ending ("refusals" for "refusal", "optima" for "optimal") or
    beginning ("retraining" for "pretraining") is another word, not a typo; so is a far key
    ("parses" for "passes").
    """
    prefix = 0
    while prefix < min(len(typed), len(word)) and typed[prefix] == word[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(typed), len(word)) - prefix and typed[-1 - suffix] == word[-1 - suffix]:
        suffix += 1
    if prefix < 1 or suffix < 1:
        return False
    typed_part, word_part = typed[prefix : len(typed) - suffix], word[prefix : len(word) - suffix]
    if len(typed_part) == len(word_part) == 2:  # swapped
        return typed_part == word_part[::-1]
    if len(typed_part) == len(word_part) == 1:  # a neighbouring key
        return typed_part in _NEIGHBOURS.get(word_part, ())
    if not word_part and len(typed_part) == 1:  # an extra key: doubled or beside its neighbour
        extra, around = typed_part, {typed[prefix - 1], typed[len(typed) - suffix]}
        return extra in around or bool(_NEIGHBOURS.get(extra, set()) & around)
    return not typed_part and len(word_part) == 1  # a dropped letter


def _describes(phrase: str) -> bool:
    """ "the multi-hop query paper" describes a paper in lower-case words; "the BERT paper", "the
    word2vec paper" and "the dropout paper" name one (a capital, a digit, or one word)."""
    return " " in phrase.strip() and not _looks_named(phrase)


def _looks_named(phrase: str) -> bool:
    """A capital or a digit marks a name ("Change is Hard", "seq2seq"); lower-case words describe."""
    return any(c.isupper() or c.isdigit() for c in phrase)


def _edit_distance_at_most_one(a: str, b: str) -> bool:
    """Substitution, insertion, deletion or an adjacent transposition."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def contains_token(text: str, name: str) -> bool:
    """`name` as a whole token of `text` (a plural allowed), not inside another word ("bert" in "palbert")."""
    return re.search(r"(?<![\w\-])" + re.escape(name) + r"(?:s|es)?(?![\w\-])", text) is not None


def abstract_names(
    abstracts: dict[str, str], max_papers: int = MAX_NAME_PAPERS, coined: dict[str, list[str]] | None = None
) -> dict[str, list[str]]:
    """Coined words of abstracts ("PCME", "LieGAN", "MERU") -> the (at most two) papers using them.

    A name many abstracts use ("BERT", "GPT-4") is a baseline, not what a paper is about.
    """
    common = set(COMMON_ACRONYMS) | {a + "s" for a in COMMON_ACRONYMS}
    names: dict[str, list[str]] = {}
    for name, pids in (coined if coined is not None else coined_words(abstracts)).items():
        if len(pids) > max_papers or name in common:
            continue
        owners = [pid for pid in pids if _coins(abstracts[pid], name)]
        if owners:
            names[name] = owners
    return names


def _coins(abstract: str, name: str) -> bool:
    """The abstract introduces `name` (used twice, or in a "we propose ..." sentence), not just cites it."""
    return _introduces(abstract, re.compile(r"(?<![\w\-])" + re.escape(name) + r"(?![\w\-])", re.IGNORECASE))


def _introduces(abstract: str, pattern: re.Pattern[str]) -> bool:
    uses = len(pattern.findall(abstract))
    if uses != 1:  # twice or more: introduced; never: nothing to look for sentence by sentence
        return uses >= 2
    return any(pattern.search(s) and INTRODUCES.search(s) for s in re.split(r"(?<=[.!?])\s+", abstract))


def discusses(title: str, abstract: str, topic: str) -> bool:
    """The paper is about `topic` (its title has it, or the abstract uses it twice, abbreviates or introduces it).

    One passing mention ("... as well as all Capsule Network proposals") is not enough.
    Singular and plural count alike.
    """
    stem = re.sub(r"(?<=\w{3})s$", "", topic)  # "capsule networks" -> "capsule network"
    phrase = r"(?<![\w\-])" + re.escape(stem) + r"(?:s|es)?(?![\w\-])"
    pattern = re.compile(phrase, re.IGNORECASE)
    # "maximum inner product search (MIPS)": an abstract that abbreviates a topic goes on to use it
    abbreviated = re.compile(phrase + r"\s*\(\s*[A-Za-z][\w\-]*\s*\)", re.IGNORECASE)
    return bool(pattern.search(title) or abbreviated.search(abstract)) or _introduces(abstract, pattern)


def coined_words(texts: dict[str, str]) -> dict[str, list[str]]:
    """Every coined word (lower-cased) of the texts -> the ids of the texts using it."""
    names: dict[str, set[str]] = {}
    for pid, text in texts.items():
        for word in {m.group() for m in NAME_TOKEN.finditer(text)}:
            if any(_coined(part) for part in word.split("-")):
                names.setdefault(word.lower(), set()).add(pid)
    return {n: sorted(p) for n, p in names.items()}


def _coined(word: str) -> bool:
    """ "SoFar", "HYPO", "GPT4" look coined; "Memory", "Efficient", "3D" do not."""
    letters = sum(c.isalpha() for c in word)
    if letters < 2:
        return False
    return any(c.isupper() for c in word[1:]) or any(c.isdigit() for c in word)


# What a question may end with that asks nothing: "... Thanks!", "..., please."
PLEASANTRIES = re.compile(
    r"\s*[,;:-]?\s*\b(?:thanks|thank you|thx|cheers|please)(?: (?:a lot|so much|in advance))?[\s.!]*$",
    re.IGNORECASE,
)
# "I need a paper about this: explain ReACC": a lead before a colon that only asks for a paper
ASKING_LEAD = re.compile(r"^([^:?]{0,80}\b(?:paper|papers|work|study|research|article)s?\b[^:?]{0,30}):\s*(?=\S)", re.I)
# "..., compared with BERT?": a reference point at the end, not what is asked about
COMPARED_WITH = re.compile(
    r"\s*[,;(]?\s*\b(?:compared (?:with|to)|versus|vs\.?|as opposed to|in contrast to|unlike)"
    r"\s+(?:\S+\s*){1,4}?[)]?\s*[?.!]*$",
    re.IGNORECASE,
)
WRAPPED = re.compile(r"^(?:\*\*|__|\*|_|`|[\"\u201c])(.+?)(?:\*\*|__|\*|_|`|[\"\u201d])$")  # the whole question
GREETING = re.compile(r"^\s*(?:hi|hey|hello|hiya|dear \w+)(?: there)?\s*[,!.:]*\s+(?=\S)", re.IGNORECASE)
POLITE_ASK = re.compile(
    r"^\s*(?:(?:can|could|would|will) you (?:please |kindly )?|please |kindly )"
    r"(?:(?:tell|show) me (?=what|how|which|who|why|whether|if)|(?=tell|explain|describe|summari|give|show|list|find))",
    re.IGNORECASE,
)
TRAILING_SYMBOLS = re.compile(r"[\s\u2600-\u27bf\U0001f000-\U0001faff\ufe0f\u200d]+$")  # emoji and pictographs
# A first sentence about the asker, not the papers: "I'm a PhD student working on my thesis."
ABOUT_THE_ASKER = re.compile(r"^\s*(?:I|I'm|I am|I've|I have|We|We're|We are|My|Our)\b[^?.!]*[.!]+\s+(?=\S)")
TITLE_CASED = re.compile(r"^[A-Z][a-z]+(?:-[a-z]+)*$")  # "Compress", "Per-patch", "Bert-based"


QUOTED = re.compile(r"(?<!\w)['\"\u2018\u201c]([^'\"\u2019\u201d]{3,60})['\"\u2019\u201d](?!\w)")
# "the 'dark knowledge' paper": a lower-case phrase quoted before one of these words is a name
# (not before "model": "a 'denoising generative' model" describes one)
NAMED_THINGS = frozenset(["paper", "papers"])


def quotes_a_name(question: str, quote: re.Match[str]) -> bool:
    """ "'Change is Hard'", "'seq2seq'" and "the 'dark knowledge' paper" quote a name; "the 'what job to
    do' summary" or "does it 'know'" only quote the asker's own words (scare quotes), which no
    abstract need carry."""
    if _looks_named(quote.group(1)):
        return True
    following = question[quote.end() :].split(maxsplit=1)
    return bool(following) and following[0].lower().strip(",.?!") in NAMED_THINGS


EVERYDAY_ABBREVIATIONS = frozenset(["PhD", "MSc", "BSc", "MBA", "MD", "CS", "AI", "ML", "NLP", "US", "UK", "EU"])


def _names_nothing(text: str) -> bool:
    """No word past the first is capitalised or coined-looking (the asker's "I" and "PhD" aside)."""
    words = re.findall(r"[\w\-']+", text)
    return not any(
        w != "I" and w not in EVERYDAY_ABBREVIATIONS and (w[1:] != w[1:].lower() or (i and w[0].isupper()))
        for i, w in enumerate(words)
    )


def plain_question(question: str) -> str:
    """The question without what asks nothing, and in sentence case if typed In Title Case.

    A capital is the main sign of a name, so "How Does Meru Compare to Clip?" would ask about
    seven names; when most longer words are capitalised ("Title Case"), only the words that
    look coined (MERU, ViT, GPT-2) keep their capitals. "... Thanks!", a lead such as "I need
    a paper about this:" (only when it names nothing) and first sentences about the asker
    ("I'm a PhD student working on my thesis.") are dropped, as are markdown or quotes around
    the whole question, a trailing reference point ("..., compared with BERT?") and scare quotes
    (`quotes_a_name`): "what is 'capsule networks'?" asks what "what is capsule networks?" asks.
    """
    question = WRAPPED.sub(r"\1", question.strip()) or question  # "**what is X?**", "\"what is X?\""
    question = GREETING.sub("", TRAILING_SYMBOLS.sub("", question)) or question  # "hey, what is X? 🙏"
    question = POLITE_ASK.sub("", question) or question  # "Could you tell me what is X?" asks "what is X?"
    question = QUOTED.sub(lambda m: m.group() if quotes_a_name(question, m) else m.group(1), question)
    trimmed = COMPARED_WITH.sub("?", question)
    question = trimmed if len(trimmed.split()) >= 2 else question
    kept = PLEASANTRIES.sub("", question)
    question = kept if len(kept.split()) >= 2 else question  # "what is pls": PLS may be a name
    # "I'm a PhD student. What is FACT?" asks "What is FACT?"; "I'm stuck on SoFar. What does it do?" stays
    while (about_me := ABOUT_THE_ASKER.match(question)) and len(question[about_me.end() :].split()) >= 2:
        if not _names_nothing(about_me.group()):
            break
        question = question[about_me.end() :]
    lead = ASKING_LEAD.match(question)
    if lead and _names_nothing(lead.group(1)):  # "In the SoFar paper: ..." stays
        question = question[lead.end() :]
    shouted = re.findall(r"\b[A-Z]{4,}\b", question)
    if len(shouted) >= 4 and len(shouted) >= 0.8 * len(re.findall(r"\b[A-Za-z]{4,}\b", question)):
        return question.lower()  # "WHAT IS HYPO?": capitals say nothing; lower-case names are still found
    # the first word is capitalised in any sentence
    words = [m.group() for m in re.finditer(r"[A-Za-z][\w\-]{3,}", question) if question[: m.start()].strip()]
    capitalised = [w for w in words if TITLE_CASED.match(w)]
    if len(capitalised) >= 4 and len(capitalised) >= 0.6 * len(words):
        question = re.sub(
            r"[A-Za-z][\w\-]*", lambda m: m.group().lower() if TITLE_CASED.match(m.group()) else m.group(), question
        )
    return question


def strip_boilerplate(question: str) -> str:
    """ "Which paper proposes X in here?" -> "X"; "What does the SoFar paper propose?" -> "SoFar"."""
    named = PAPER_NAMED.match(question)
    if named:
        return named.group(1).strip()
    text = question
    for _ in range(3):  # "Hi, can you tell me about ..." peels in steps
        stripped = LEAD.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    text = TRAIL.sub("", text).strip()
    return text if len(WORD.findall(text)) >= 1 else question.strip()


def title_names(titles: dict[str, str]) -> dict[str, list[str]]:
    """Name-like words of titles -> paper ids: "SoFar", "HYPO", "MM-Lego", a short title before ":".

    A word counts when it looks like a coined name (inner capital, all capitals, digits,
    or the whole head before a colon) and at most two titles use it, so "LLM" or "3D" is
    no paper's name.
    """
    names: dict[str, list[str]] = {}
    for pid, title in titles.items():
        head = title.split(":", 1)[0].strip() if ":" in title else ""
        candidates = set()
        if head and len(head.split()) <= 5 and len(head) >= 3:
            candidates.add(head.lower())
        candidates.add(title.lower().rstrip("?!."))  # the whole title, quoted or typed out
        for match in NAME_TOKEN.finditer(title):
            word = match.group()
            letters = [c for c in word if c.isalpha()]
            if len(letters) < 2:
                continue
            if any(_coined(part) for part in word.split("-")):
                candidates.add(word.lower())
        for name in candidates:
            names.setdefault(name, []).append(pid)
    common = set(COMMON_ACRONYMS) | {a + "s" for a in COMMON_ACRONYMS}
    return {n: pids for n, pids in names.items() if len(pids) <= 2 and n not in common}
