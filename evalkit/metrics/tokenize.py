"""Unicode-aware tokenizers for the overlap metrics (ROUGE, BLEU, token F1).

rouge_score keeps only ASCII letters and digits (so "Größe" and "Grüße" were both "gr", "e"
and scored 1.0) and sacrebleu's 13a tokenizer leaves „German" quotes glued to the words. Here
a word is a run of letters, combining marks and digits in any script (NFKC-normalised first,
so full-width digits and ligatures compare equal), and each Han, Hiragana or Katakana
character is a token of its own, as Chinese and Japanese have no spaces between words.

    words("„Größe“ zählt!")            -> ["grösse", "zählt"]       (ROUGE: words, casefolded)
    bleu_tokens("„Größe“ zählt!")      -> ["„", "Größe", "“", "zählt", "!"]
    words("東京は大きい")                -> ["東", "京", "は", "大", "き", "い"]

`regex` (a dependency of sacrebleu and nltk) is imported on first use: Python's `re` has no
`\\p{M}`, and without combining marks Hindi "हिन्दी" would fall apart into three "words".
"""

from __future__ import annotations

import functools
import unicodedata
from typing import Any

# Scripts written without spaces: one token per character (the usual practice for ROUGE and
# BLEU on Chinese and Japanese; sacrebleu's zh tokenizer does the same for Han).
_CJK = r"[\p{Han}\p{Hiragana}\p{Katakana}]"
_LETTER = r"(?:(?!" + _CJK + r")[\p{L}\p{M}\p{N}])"
# BLEU keeps a number's decimal point or thousands separator ("3.14", "1,000") and an
# apostrophe between letters ("don't", "l'eau") inside the token, as sacrebleu's 13a does.
_NUMBER = r"\p{N}+(?:[.,]\p{N}+)*(?!" + _LETTER + ")"
_WORD = _LETTER + r"+(?:['’](?=\p{L})" + _LETTER + "+)*"


@functools.cache
def _patterns() -> tuple[Any, Any]:
    import regex

    rouge = regex.compile(f"{_CJK}|{_LETTER}+")
    bleu = regex.compile(rf"{_CJK}|{_NUMBER}|{_WORD}|\S")
    return rouge, bleu


def normalize_text(text: str, ignore_case: bool) -> str:
    text = unicodedata.normalize("NFKC", text)
    return text.casefold() if ignore_case else text


def words(text: str, ignore_case: bool = True) -> list[str]:
    """Word tokens (punctuation dropped), casefolded by default: what ROUGE compares."""
    pattern, _ = _patterns()
    return [m.group(0) for m in pattern.finditer(normalize_text(text, ignore_case))]


def bleu_tokens(text: str, ignore_case: bool = False) -> list[str]:
    """BLEU tokens: words, numbers and each punctuation mark or symbol as its own token."""
    _, pattern = _patterns()
    return [m.group(0) for m in pattern.finditer(normalize_text(text, ignore_case))]
