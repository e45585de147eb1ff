"""Acronyms: a short list of common ones, and the "Long Form (LF)" pairs the abstracts define.

Expanding a question's acronyms for the search is off by default (`expand_query`: measured
no better on the tune half); the list still keeps common acronyms ("LLM", "GAN") from
counting as one paper's name, and the mined pairs let the refusal evidence see that an
abstract spells out an acronym the question uses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

PARENTHESISED = re.compile(r"\(([A-Z][A-Za-z0-9\-]{1,11}?)(s)?\)")

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
# The common acronyms and their plurals: words too widely used to be one paper's name.
COMMON_NAMES = frozenset(COMMON_ACRONYMS) | {a + "s" for a in COMMON_ACRONYMS}


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
