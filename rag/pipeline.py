"""Pipeline: question -> retrieval -> answer, as one `Answer` or a stream of events.

The CLI and the web UI answer through `Pipeline` (they import only its exceptions from
below it); evaluation also ranks through `Pipeline.retriever` directly, because its ranked
metrics and the BM25/dense baselines need the retrievers' own lists. Nothing here imports
gradio.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Generator, Iterator, Sequence
from dataclasses import replace
from functools import partial
from typing import Any, Literal

from pydantic import ValidationError

from rag.answer import (
    CITATION,
    FALLBACK,
    NOT_IN_CORPUS,
    CheckedText,
    ExtractiveAnswerer,
    LLMAnswerer,
    check_citations,
    shorten,
)
from rag.config import Settings, get_settings
from rag.conversation import AloneSearch, Resolution, as_turns, common_in, resolve
from rag.index import PaperIndexError, corpus_version
from rag.models import Answer, AnswerMode, AskRequest, InvalidQuestion, QueryRewrite, Source, StreamEvent, describe
from rag.question import respell
from rag.search import Retrieval, Retriever
from rag.selection import DEPTH

log = logging.getLogger(__name__)

MIN_ANSWER_WORDS = 3  # an LLM reply that is little more than "[2]" is not an answer
CLOSEST_SHOWN = 3  # titles a refusal still shows
NONE_BEYOND = "No other paper in the collection answers this than those the last answer cited."

ModeChoice = Literal["auto", "extractive", "llm"]


def clean_question(question: Any, max_chars: int) -> str:
    """Normalise a question; raise `InvalidQuestion` with a message a user can act on (`AskRequest`'s rule)."""
    return AskRequest.parse(question, max_question_chars=max_chars).question


def drop_missing(retrieval: Retrieval, present: set[str]) -> Retrieval:
    """The retrieval without papers the store no longer holds, renumbered, and refused if any was dropped.

    The verdict was decided with the dropped papers' evidence (often the very paper that
    answered): it does not carry over to the papers left. `Pipeline.stream` decides again
    without them first; this is the last guard.
    """
    kept = [s for s in retrieval.sources if s.paper.id in present]
    if len(kept) == len(retrieval.sources):
        return retrieval
    sources = [s.model_copy(update={"n": n}) for n, s in enumerate(kept, start=1)]
    return replace(retrieval, sources=sources, verdict="refuse")


def check_k(k: Any) -> int:
    """`k` as `AskRequest` takes it, or `InvalidQuestion`."""
    try:
        return AskRequest.model_validate({"question": "k", "k": k}).k
    except ValidationError as exc:
        raise InvalidQuestion(describe(exc)) from None


class Pipeline:
    """Retrieve + answer. Thread-safe: one instance serves every user of a process."""

    def __init__(self, settings: Settings | None = None, retriever: Retriever | None = None) -> None:
        self.settings = settings or get_settings()
        self._use(retriever or Retriever(self.settings))
        self._llm: LLMAnswerer | None = None
        self._llm_lock = threading.Lock()
        self._reload_lock = threading.Lock()
        self._reload: threading.Thread | None = None

    def _use(self, retriever: Retriever) -> None:
        """Answer from `retriever` from now on (its extractive answerer weighs words by its BM25)."""
        from rag.answer.plan import Planner
        from rag.selection import SelectionModel, default_selection_file

        self.extractive = ExtractiveAnswerer(retriever.idf, self.settings.answer_sentences)
        selection = SelectionModel.load(
            self.settings.selection_model or default_selection_file(self.settings.paper_embedder)
        )
        self.planner = Planner(retriever, retriever.sentences, selection)  # the copy its rerank reads too
        self.retriever = retriever

    # -- several processes, one store ------------------------------------------------------
    def refresh(self, wait: bool = False) -> bool:
        """Pick up papers another process ingested; True while the loaded papers are out of date.

        One metadata read per question (ingest writes a new corpus version whenever the papers
        change). A newer version reloads the index in the background, so nobody waits for it;
        until the new one is in, answers drop any source the store no longer holds.
        `wait=True` blocks until a reload that is due has finished (tests, `rag` tools).
        """
        if not self.settings.watch_index:
            return False
        try:
            current = corpus_version(self.settings)
        except PaperIndexError as exc:  # the store is away: answer from what is loaded, say why in the log
            log.warning("cannot check the index version (%s); answering from the loaded index", exc)
            return False
        if current == self.retriever.version:
            return False
        with self._reload_lock:
            if self._reload is None or not self._reload.is_alive():
                self._reload = threading.Thread(target=self._reload_index, name="index-reload", daemon=True)
                self._reload.start()
            reload = self._reload
        if wait:
            reload.join()
            return corpus_version(self.settings) != self.retriever.version
        return True

    def _reload_index(self) -> None:
        started = time.perf_counter()
        try:
            fresh = Retriever(self.settings, embedder=self.retriever.embedder)
        except Exception as exc:  # e.g. a rebuild in progress emptied it: keep serving, retry next question
            log.warning("reloading the index failed (%s); still answering from the loaded one", exc)
            return
        if fresh.rewriter is not None and self.retriever.rewriter is not None:
            fresh.rewriter = self.retriever.rewriter  # a question's passage does not depend on the papers: keep them
        self._use(fresh)
        log.info("index reloaded: %d papers, version %s, %.1f s", fresh.paper_count, fresh.version,
                 time.perf_counter() - started)  # fmt: skip

    # -- info for front ends ---------------------------------------------------------------
    @property
    def paper_count(self) -> int:
        return self.retriever.paper_count

    def papers(self) -> list[Any]:
        return self.retriever.all_papers()

    def llm(self) -> LLMAnswerer | None:
        """The LLM answerer when an endpoint is configured, else None (built once)."""
        if not self.settings.llm_enabled:
            return None
        with self._llm_lock:
            if self._llm is None:
                self._llm = LLMAnswerer(self.settings)
            return self._llm

    def _mode(self, mode: ModeChoice) -> AnswerMode:
        if mode == "extractive":
            return "extractive"
        if mode == "llm" and not self.settings.llm_enabled:
            raise InvalidQuestion("no LLM endpoint is configured (set RAG_LLM_BASE_URL or OPENAI_API_KEY)")
        return "llm" if self.settings.llm_enabled else "extractive"

    # -- answering ---------------------------------------------------------------------------
    def request(self, question: Any, k: Any = None, mode: Any = "auto", history: Any = None) -> AskRequest:
        """The validated request (`k=None`: the configured top-k); `InvalidQuestion` says what is wrong."""
        k = self.settings.top_k if k is None else k
        return AskRequest.parse(question, k, mode, history, max_question_chars=self.settings.max_question_chars)

    def resolve(self, question: str, history: Sequence[Any] | None = None) -> Resolution:
        """What to search for: the question, or a follow-up resolved against `history`.

        A message its wording alone reads as a follow-up is also searched alone: one with a topic of
        its own ("what is FARM and how does it represent molecules?") is searched afresh
        (`rag.conversation.OWN_TOPIC_RULES`) instead of with the last answer's paper.
        """
        retriever = self.retriever

        def search(text: str) -> AloneSearch:
            alone = retriever.retrieve(text, self.settings.top_k, rewrite=False)  # a probe: no LLM request
            if not alone.sources:
                return AloneSearch(alone.answerable)
            best = alone.sources[0].paper
            return AloneSearch(alone.answerable, best.id, best.title, best.abstract)

        def text_of(paper_id: str) -> str:
            paper = retriever.papers.get(paper_id)
            return paper.abstract if paper is not None else ""

        return resolve(question, history, search=search, text_of=text_of, common=common_in(retriever.corpus_words))

    def search_resolved(
        self,
        resolution: Resolution,
        k: int,
        depth: int,
        retriever: Retriever | None = None,
        exclude: Collection[str] = (),
    ) -> Retrieval:
        """Retrieve for a resolved question: the papers under discussion are carried (cited), those of
        "which of them ..." are a pool (chosen among); `exclude`: papers the store no longer holds."""
        return (retriever or self.retriever).retrieve(
            resolution.standalone_question,
            k,
            carried=[pid for pid in resolution.subjects if pid not in exclude],
            pool=[pid for pid in resolution.pool if pid not in exclude],
            exclude=exclude,
            depth=depth,
        )

    def stream(
        self,
        question: Any,
        k: int | None = None,
        mode: ModeChoice = "auto",
        history: Sequence[Any] | None = None,
        ranked: Retrieval | None = None,
    ) -> Iterator[StreamEvent]:
        """Events: `sources` first, then `delta` text pieces, maybe a `notice`, last the `answer`.

        `history`: the earlier turns of a conversation (see `rag.conversation.as_turns`); a
        follow-up ("what datasets did they use?") is searched with the paper it refers to.
        `ranked`: a retrieval of this very search made already (`rag eval` ranks deeper than
        k for its metrics): answered from, cut to k, instead of searching again.
        """
        started = time.perf_counter()
        request = self.request(question, k, mode, history)
        text, k, history = request.question, request.k, request.history
        chosen = self._mode(request.mode)
        resolution = self.resolve(text, history)
        condense_notice = ""
        if chosen == "llm" and as_turns(history):
            resolution, condense_notice = self._condense(text, history, resolution)
            if condense_notice:
                yield StreamEvent(kind="notice", text=condense_notice)
        stale = self.refresh()
        retriever = self.retriever  # one retriever for the whole question, even if a reload lands meanwhile
        depth = max(k, DEPTH)  # a set question may cite papers past the top k
        if ranked is not None and ranked.query.question == resolution.standalone_question and not stale:
            retrieval = replace(ranked, sources=ranked.sources[:depth], hits=ranked.hits[:depth])
        else:
            retrieval = self.search_resolved(resolution, k, depth, retriever)
        if stale and retrieval.sources:  # another process changed the papers: never cite one that is gone
            retrieval = self._without_missing(retriever, retrieval, resolution, k, depth)
        timings = {"retrieve_ms": (time.perf_counter() - started) * 1e3, **retrieval.timings}
        planner = self.planner  # the planner of the retriever above
        plan = planner.plan(text, retrieval, k) if retrieval.answerable else None
        if plan is not None and resolution.beyond:  # "Are there other papers on ...?": not those cited already
            plan = plan.beyond(resolution.beyond)
        none_beyond = plan is not None and not plan.chosen and bool(resolution.beyond)
        sources = plan.sources if plan is not None and not none_beyond else []
        yield StreamEvent(kind="sources", sources=sources)

        confidence = retrieval.probability
        spelled = "; ".join(f"searched for “{name}” (typed “{word}”)" for word, name in retrieval.query.spelled.items())
        spelled = spelled[:1].upper() + spelled[1:] + "." if spelled else ""
        # both refusals below: the same question, mode, timings and confidence
        refuse = partial(
            self._refuse, text, chosen, timings, started, confidence, resolution.standalone_question, retrieval.rewrite
        )
        if none_beyond:
            yield from refuse(NONE_BEYOND, nearest=retrieval.sources[:k])
            return
        if not retrieval.answerable:
            outside = retrieval.outside
            hint = f"It sounds like {outside.cite()}, a well-known paper not in this collection." if outside else ""
            yield from refuse(" ".join(n for n in (hint, spelled) if n), nearest=retrieval.sources[:k])
            return
        low_confidence = retrieval.verdict == "low_confidence"

        answer_started = time.perf_counter()
        notice = ""
        checked: CheckedText | None = None
        if chosen == "llm":
            checked, notice = yield from self._answer_llm(resolution.standalone_question, sources, plan)
            if checked is not None and not checked.citations:  # the model says the papers do not answer it
                if low_confidence:  # two weak signals agree: refuse (the refusal was streamed already)
                    yield from refuse(streamed=True, nearest=sources)
                    return
                # retrieval is confident: the quotes with a notice beat a bare refusal
                checked, notice = None, f"The language model found no direct answer in these papers; {FALLBACK}"
            if checked is None:  # the LLM failed or cited nothing valid: fall back, and say so
                chosen = "extractive"
                yield StreamEvent(kind="notice", text=notice)
        if checked is None:
            pieces: list[str] = []
            # quotes answer what the user asked now (a follow-up's appended title would pull the title's sentence)
            quoted_for = respell(text, retrieval.query.spelled)  # "What is SPALDE?" quotes for "splade"
            assert plan is not None  # answerable
            for piece in self.extractive.write(quoted_for, plan, retriever.tokenize):
                pieces.append(piece)
                yield StreamEvent(kind="delta", text=piece)
            checked = check_citations("".join(pieces), sources)
        timings["answer_ms"] = (time.perf_counter() - answer_started) * 1e3
        refused = not checked.citations
        answer = Answer(
            question=text,
            text=checked.text if not refused else NOT_IN_CORPUS,
            citations=checked.citations,
            sources=sources if not refused else [],
            refused=refused,
            mode=chosen,
            timings=timings,
            notice=" ".join(n for n in (condense_notice, notice, spelled) if n),
            uncited_sentences=checked.uncited_sentences,
            made_up_citations=checked.removed,
            low_confidence=low_confidence and not refused,
            confidence=confidence,
            standalone_question=resolution.standalone_question,
            used_sources=sorted({c.n for c in checked.citations}) if not refused else [],
            form=plan.form.form if plan is not None else "",
            query_rewrite=retrieval.rewrite,
        )
        yield StreamEvent(kind="answer", answer=self._finish(answer, started))

    def _without_missing(
        self, retriever: Retriever, retrieval: Retrieval, resolution: Resolution, k: int, depth: int
    ) -> Retrieval:
        """`retrieval` as if the papers the store no longer holds were gone: ranked and decided again.

        Keeping the old verdict while dropping its sources answered "which paper introduced X?"
        confidently from unrelated papers for the seconds until the reload landed.
        """
        ids = [s.paper.id for s in retrieval.sources]
        missing = set(ids) - retriever.present(ids)
        if not missing:
            return retrieval
        again = self.search_resolved(resolution, k, depth, retriever, exclude=missing)
        log.info("%d of the papers found were deleted meanwhile; decided again: %s", len(missing), again.verdict)
        # papers beyond the first k may be gone too: any of those among the new sources means refuse
        return drop_missing(again, retriever.present([s.paper.id for s in again.sources]))

    def _refuse(
        self,
        question: str,
        mode: AnswerMode,
        timings: dict[str, float],
        started: float,
        confidence: float,
        standalone_question: str,
        rewrite: QueryRewrite | None = None,
        notice: str = "",
        streamed: bool = False,
        nearest: Sequence[Source] = (),
    ) -> Iterator[StreamEvent]:
        """The fixed "not in the listed papers" outcome: no sources, no citations.

        The best-matching titles of `nearest` still come along (`Answer.closest`, cited for nothing): a
        refusal can be wrong, and the worst case, "the papers do not cover it" when one does,
        then still shows the user where to look.
        """
        if not streamed:
            yield StreamEvent(kind="delta", text=NOT_IN_CORPUS)
        answer = Answer(
            question=question,
            text=NOT_IN_CORPUS,
            refused=True,
            mode=mode,
            sources=[],
            timings=timings,
            notice=notice,
            confidence=confidence,
            standalone_question=standalone_question,
            closest=[s.paper.title for s in nearest[:CLOSEST_SHOWN]],
            query_rewrite=rewrite,
        )
        yield StreamEvent(kind="answer", answer=self._finish(answer, started))

    def _condense(self, question: str, history: Sequence[Any], offline: Resolution) -> tuple[Resolution, str]:
        """The LLM restates the conversation's last message; on any failure the offline resolution stands."""
        llm: LLMAnswerer | None = None
        try:
            llm = self.llm()
            assert llm is not None  # only called in llm mode
            standalone = llm.condense(question, as_turns(history))
        except Exception as exc:  # the same fallback rule as answering: say so, never fail the question
            reason = llm.scrub(str(exc)) if llm is not None else str(exc)
            log.warning("condensing the conversation failed: %s", reason)
            return offline, f"The language model could not restate the follow-up ({shorten(reason)}); searched offline."
        return offline.model_copy(update={"standalone_question": standalone}), ""

    def _answer_llm(
        self, question: str, sources: list[Source], plan: Any = None
    ) -> Generator[StreamEvent, None, tuple[CheckedText | None, str]]:
        """Stream the LLM's deltas, then check its answer.

        Returns (checked answer, "") when it is usable (a refusal is usable: it cites
        nothing and says so), else (None, notice) so the caller falls back to extractive.
        """
        try:
            llm = self.llm()
        except Exception as exc:  # e.g. a missing prompt file: the message names it
            log.error("LLM answerer could not be built: %s", exc)
            return None, f"The language model is not set up ({exc}); {FALLBACK}"
        assert llm is not None  # _mode() only picks "llm" when an endpoint is configured
        pieces: list[str] = []
        try:
            for delta in llm.stream(question, sources, plan):
                pieces.append(delta)
                yield StreamEvent(kind="delta", text=delta)
        except Exception as exc:  # any LLM failure falls back; the reason is shown, never the key
            return None, llm.describe_failure(exc)
        reply = "".join(pieces)
        echoed = llm.echoes_prompt(reply)
        if llm.is_refusal(reply) and not echoed:
            return CheckedText(NOT_IN_CORPUS, []), ""
        checked = check_citations(reply, sources)
        if not reply.strip():
            problem = "returned an empty answer"
        elif echoed:
            problem = "repeated its instructions instead of answering"
        elif not checked.citations:
            problem = "gave an answer that cited none of the retrieved papers"
        elif len(CITATION.sub(" ", checked.text).split()) < MIN_ANSWER_WORDS:
            problem = "gave citations with no answer text"
        else:
            return checked, ""
        log.warning("LLM reply not used (%s): %.400r", problem, reply)
        return None, f"The language model {problem}; {FALLBACK}"

    @staticmethod
    def _finish(answer: Answer, started: float) -> Answer:
        timings = {**answer.timings, "total_ms": (time.perf_counter() - started) * 1e3}
        return answer.model_copy(update={"timings": {k: round(v, 3) for k, v in timings.items()}})

    def ask(
        self,
        question: Any,
        k: int | None = None,
        mode: ModeChoice = "auto",
        history: Sequence[Any] | None = None,
        ranked: Retrieval | None = None,
    ) -> Answer:
        """The whole Answer at once."""
        for event in self.stream(question, k=k, mode=mode, history=history, ranked=ranked):
            if event.kind == "answer" and event.answer is not None:
                return event.answer
        raise RuntimeError("the pipeline ended without an answer")  # pragma: no cover


_default: Pipeline | None = None
_default_lock = threading.Lock()


def get_pipeline() -> Pipeline:
    """The process-wide pipeline for `rag.ask` (index loaded once)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Pipeline()
        return _default


def ask(question: str, k: int = 5, history: Sequence[Any] | None = None) -> Answer:
    """Answer a question over the ingested papers, citing them as [n].

    `history`: earlier turns, e.g. `[(question, answer), ...]`, for follow-up questions.
    """
    # bad input is refused before the index loads; the pipeline validates the same request again (cheap)
    AskRequest.parse(question, k, "auto", history, max_question_chars=get_settings().max_question_chars)
    return get_pipeline().ask(question, k=k, history=history)
