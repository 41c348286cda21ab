"""Text processing shared by every task: the `char`, `word` (jieba) and `none` tokenizers."""

from .tokenize import SCHEMES, Tokenizer, annotation_words, char_tokens, get_tokenizer, whitespace_tokens

__all__ = ["SCHEMES", "Tokenizer", "annotation_words", "char_tokens", "get_tokenizer", "whitespace_tokens"]
