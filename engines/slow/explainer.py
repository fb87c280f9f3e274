"""The explainer: a small quantized GGUF model, run by llama.cpp, phrasing one window's facts.

The model is only trusted to phrase: its output is grammar-bound JSON, checked
against the evidence, and replaced by the template when the check fails.
Each Explanation says which of the two produced it and, if the template
stood in, why.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from engines.contracts import Evidence, Explanation
from engines.errors import BackendError, ModelError
from engines.slow.grounding import Ungrounded, check_answer
from engines.slow.llm_models import GgufModel
from engines.slow.prompt import PREFIXES, build_grammar, build_prompt
from engines.slow.template import template_answer

TokenCallback = Callable[[str], None]


def template_explanation(evidence: Evidence, trigger: str, rejected: str | None = None) -> Explanation:
    start = time.perf_counter()
    answer = template_answer(evidence)
    return _explanation(evidence, trigger, answer, "template", 0, (time.perf_counter() - start) * 1000, None, rejected)


def _explanation(evidence, trigger, answer, source, tokens, latency_ms, first_ms, rejected, model=None) -> Explanation:
    return Explanation(
        window=evidence.window,
        trigger=trigger,
        label=answer["label"],
        confidence=round(float(answer["confidence"]), 4),
        cues=tuple(answer["cues"]),
        text=answer["explanation"],
        tokens=tokens,
        latency_ms=round(latency_ms, 1),
        track_id=evidence.track_id,
        fast_label=evidence.label,
        source=source,
        first_token_ms=None if first_ms is None else round(first_ms, 1),
        rejected=rejected,
        model=model,
    )


class Explainer:
    """Holds one llama.cpp context; not thread-safe: one explanation at a time (the worker sees to that)."""

    def __init__(
        self,
        model: GgufModel,
        threads: int = 1,
        max_tokens: int = 96,
        batch_threads: int | None = None,
        context: int = 2048,
        repeat_penalty: float = 1.15,
    ):
        try:
            from llama_cpp import Llama, LlamaGrammar
        except ImportError as exc:
            raise BackendError(
                "llama-cpp-python is not installed: run ./install.sh, or "
                "`CMAKE_ARGS=-DGGML_NATIVE=OFF .venv/bin/pip install llama-cpp-python==0.3.36`"
            ) from exc
        self._grammar_type = LlamaGrammar
        self.model = model
        self.max_tokens = max_tokens
        self.repeat_penalty = repeat_penalty
        try:
            self._llm = Llama(
                model_path=str(model.path),
                n_ctx=context,
                n_threads=threads,
                n_threads_batch=batch_threads or threads,
                seed=0,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"llama.cpp could not load {model.path}: {exc}") from exc

    def warm(self) -> float:
        """Evaluates the fixed prompt prefix once, so each explanation evaluates only its own facts."""
        start = time.perf_counter()
        self._llm.create_completion(PREFIXES[self.model.prompt], max_tokens=1, temperature=0.0)
        return time.perf_counter() - start

    def explain(self, evidence: Evidence, trigger: str, on_token: TokenCallback | None = None) -> Explanation:
        start = time.perf_counter()
        grammar = self._grammar_type.from_string(build_grammar(evidence), verbose=False)
        first_ms = None
        text = ""
        tokens = 0
        for chunk in self._llm.create_completion(
            build_prompt(evidence, self.model.prompt),
            grammar=grammar,
            max_tokens=self.max_tokens,
            temperature=0.0,
            repeat_penalty=self.repeat_penalty,
            stream=True,
        ):
            piece = chunk["choices"][0]["text"]
            if first_ms is None:
                first_ms = (time.perf_counter() - start) * 1000
            tokens += 1
            text += piece
            if on_token and piece:
                on_token(piece)
            if text.endswith("}") and _closes(text):
                break  # early exit: the answer is complete
        total_ms = (time.perf_counter() - start) * 1000
        try:
            answer = check_answer(text, evidence)
        except Ungrounded as exc:
            fallback = template_answer(evidence)
            return _explanation(
                evidence,
                trigger,
                fallback,
                "template",
                tokens,
                total_ms,
                first_ms,
                f"{exc} | model said: {text}",
                self.model.name,
            )
        return _explanation(evidence, trigger, answer, "llm", tokens, total_ms, first_ms, None, self.model.name)


def _closes(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
