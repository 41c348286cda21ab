"""Hypothesis strategies: small corpora of Chinese-character token lists (repeats likely, so matches happen)."""

from hypothesis import strategies as st

ALPHABET = list("好的多喝水注意休息建议复查，。？")
tokens = st.lists(st.sampled_from(ALPHABET), min_size=0, max_size=12)
nonempty_tokens = st.lists(st.sampled_from(ALPHABET), min_size=1, max_size=12)


@st.composite
def corpora(draw, min_segments=1, max_segments=6, n_refs=1, allow_empty=True):
    n = draw(st.integers(min_segments, max_segments))
    hyp_strategy = tokens if allow_empty else nonempty_tokens
    hyps = [draw(hyp_strategy) for _ in range(n)]
    refs = [[draw(nonempty_tokens) for _ in range(n_refs)] for _ in range(n)]
    return hyps, refs
