"""The protocol's tasks: deterministic splits, input views, classification data and generation instances
(see ``benchmark-protocol.md``; every command builds its data through these functions)."""

from .classification import (
    DEFAULT_MIN_COUNT,
    PROTOCOL_TASKS,
    ClassificationData,
    ClassificationSettings,
    build_classification_task,
)
from .generation import (
    GenerationData,
    GenerationSettings,
    Instance,
    StreamedGenerationSplit,
    StreamedGenerationTest,
    build_generation_task,
    build_instances,
    dialogue_instances,
    merge_same_speaker,
    stream_generation_split,
    streamed_generation_test,
)
from .splits import Split, classification_split, generation_split, order_key, round_half_up, split_records
from .views import VIEWS, dialogue_view, get_view, patient_view

__all__ = [
    "DEFAULT_MIN_COUNT", "PROTOCOL_TASKS", "ClassificationData", "ClassificationSettings",
    "build_classification_task", "GenerationData", "GenerationSettings", "Instance", "StreamedGenerationSplit",
    "StreamedGenerationTest", "stream_generation_split", "streamed_generation_test", "build_generation_task",
    "build_instances", "dialogue_instances", "merge_same_speaker", "Split", "classification_split",
    "generation_split", "order_key", "round_half_up", "split_records", "VIEWS", "dialogue_view", "get_view",
    "patient_view",
]
