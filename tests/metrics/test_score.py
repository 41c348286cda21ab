"""`Score` and signatures."""

import json

from rmd_baselines import __version__
from rmd_baselines.metrics.score import Score, make_signature


def test_signature_format():
    signature = make_signature("BLEU-4", family="dstc7", tok="char", smooth="mteval", nrefs=1, skipped=None)
    assert signature == f"BLEU-4|family:dstc7|tok:char|smooth:mteval|nrefs:1|version:{__version__}"


def test_str_and_json():
    score = Score("BLEU-4", 0.123456, "dstc7", "BLEU-4|version:x", ci=(0.1, 0.2))
    assert str(score) == "BLEU-4 = 0.1235 (95% CI [0.1000, 0.2000])  [BLEU-4|version:x]"
    data = score.to_json()
    assert data == {"name": "BLEU-4", "value": 0.123456, "family": "dstc7", "signature": "BLEU-4|version:x",
                    "ci": [0.1, 0.2]}
    json.dumps(data, ensure_ascii=False)
    assert Score("PPL", 7.0, "any", "PPL").to_json()["ci"] is None
