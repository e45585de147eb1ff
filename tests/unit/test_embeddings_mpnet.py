"""all-mpnet-base-v2 on onnxruntime: the graph against a numpy MPNet, the assembled model, the zip checks."""

from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile
from pathlib import Path

import numpy as np
import pytest

from rag import embeddings
from rag.embeddings import MPNetEmbedder, build_mpnet_onnx, relative_position_buckets
from tests.conftest import ROOT

# sha256 of HF transformers' MPNetEncoder.relative_position_bucket(j - i) over 512 x 512 positions (int64),
# computed with transformers 5.23.0 / torch 2.13.0 in a scratch venv.
HF_BUCKETS_512_SHA256 = "cdb63f647b77b3f227e182ca8842472d2d535707490f49a5529a02caa885b666"


def test_bucket_table_is_hf_s():
    table = relative_position_buckets(512)
    assert hashlib.sha256(table.astype(np.int64).tobytes()).hexdigest() == HF_BUCKETS_512_SHA256
    assert table[0, :9].tolist() == [0, 17, 18, 19, 20, 21, 22, 23, 24]
    assert table[20, 0] == 10


# ---------------------------------------------------------------- the graph against a numpy MPNet (tiny weights)

TINY = {
    "model_type": "mpnet",
    "vocab_size": 40,
    "hidden_size": 32,
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "intermediate_size": 64,
    "max_position_embeddings": 24,
    "relative_attention_num_buckets": 32,
    "layer_norm_eps": 1e-5,
    "pad_token_id": 1,
}


def tiny_weights(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    h, inter = TINY["hidden_size"], TINY["intermediate_size"]

    def r(*shape: int, scale: float = 0.3) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    w = {
        "embeddings.word_embeddings.weight": r(TINY["vocab_size"], h, scale=1.0),
        "embeddings.position_embeddings.weight": r(TINY["max_position_embeddings"], h, scale=1.0),
        "embeddings.LayerNorm.weight": 1 + r(h, scale=0.1),
        "embeddings.LayerNorm.bias": r(h, scale=0.1),
        "encoder.relative_attention_bias.weight": r(32, TINY["num_attention_heads"], scale=2.0),
    }
    for i in range(TINY["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        for n in "qkvo":
            w[p + f"attention.attn.{n}.weight"], w[p + f"attention.attn.{n}.bias"] = r(h, h), r(h)
        for ln in ("attention.LayerNorm", "output.LayerNorm"):
            w[p + ln + ".weight"], w[p + ln + ".bias"] = 1 + r(h, scale=0.1), r(h, scale=0.1)
        w[p + "intermediate.dense.weight"], w[p + "intermediate.dense.bias"] = r(inter, h), r(inter)
        w[p + "output.dense.weight"], w[p + "output.dense.bias"] = r(h, inter), r(h)
    return w


def hf_bucket(relative_position: int, num_buckets: int = 32, max_distance: int = 128) -> int:
    """HF's MPNetEncoder.relative_position_bucket for one relative position, written out."""
    n = -relative_position
    half = num_buckets // 2
    ret = half if n < 0 else 0
    n = abs(n)
    max_exact = half // 2
    if n < max_exact:
        return ret + n
    return ret + min(
        max_exact + int(math.log(n / max_exact) / math.log(max_distance / max_exact) * (half - max_exact)), half - 1
    )


def numpy_mpnet(w: dict[str, np.ndarray], ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """HF MPNetModel (eval) + mean pooling + L2 normalisation, in float64 numpy."""
    w = {k: v.astype(np.float64) for k, v in w.items()}
    batch, seq = ids.shape
    heads, hidden = TINY["num_attention_heads"], TINY["hidden_size"]
    dim = hidden // heads

    def ln(x: np.ndarray, prefix: str) -> np.ndarray:
        mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + TINY["layer_norm_eps"]) * w[prefix + ".weight"] + w[prefix + ".bias"]

    def lin(x: np.ndarray, prefix: str) -> np.ndarray:
        return x @ w[prefix + ".weight"].T + w[prefix + ".bias"]

    def split(x: np.ndarray) -> np.ndarray:
        return x.reshape(batch, seq, heads, dim).transpose(0, 2, 1, 3)

    real = ids != TINY["pad_token_id"]
    positions = np.cumsum(real, axis=1) * real + TINY["pad_token_id"]  # create_position_ids_from_input_ids
    h = ln(
        w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][positions],
        "embeddings.LayerNorm",
    )
    buckets = np.array([[hf_bucket(j - i) for j in range(seq)] for i in range(seq)])
    position_bias = w["encoder.relative_attention_bias.weight"][buckets].transpose(2, 0, 1)[None]
    extended_mask = (1.0 - mask[:, None, None, :]) * np.finfo(np.float64).min
    erf = np.vectorize(math.erf)
    for i in range(TINY["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        q, k, v = (split(lin(h, p + f"attention.attn.{n}")) for n in "qkv")
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(dim) + position_bias + extended_mask
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, seq, hidden)
        h = ln(lin(context, p + "attention.attn.o") + h, p + "attention.LayerNorm")
        inter = lin(h, p + "intermediate.dense")
        h = ln(lin(inter * 0.5 * (1.0 + erf(inter / math.sqrt(2.0))), p + "output.dense") + h, p + "output.LayerNorm")
    pooled = (h * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def test_graph_matches_a_numpy_mpnet_with_padding(tmp_path):
    import onnxruntime as ort
    from safetensors.numpy import save_file

    weights = tiny_weights()
    (tmp_path / "config.json").write_text(json.dumps(TINY))
    save_file(weights, str(tmp_path / "model.safetensors"))
    build_mpnet_onnx(tmp_path, tmp_path / "tiny.onnx")
    session = ort.InferenceSession(str(tmp_path / "tiny.onnx"), providers=["CPUExecutionProvider"])

    rng = np.random.default_rng(1)
    lengths = [18, 3, 11, 17]  # relative distances past 16 reach the logarithmic buckets
    ids = np.full((len(lengths), max(lengths)), TINY["pad_token_id"], dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, n in enumerate(lengths):
        ids[row, :n] = rng.choice([t for t in range(TINY["vocab_size"]) if t != TINY["pad_token_id"]], n)
        mask[row, :n] = 1
    got = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
    want = numpy_mpnet(weights, ids, mask)
    np.testing.assert_allclose(got, want, atol=2e-5)
    alone = session.run(None, {"input_ids": ids[1:2, :3], "attention_mask": mask[1:2, :3]})[0]
    np.testing.assert_allclose(alone[0], got[1], atol=2e-6)  # padding does not leak into a shorter text


# ---------------------------------------------------------------- the real model from the part packages


@pytest.fixture(scope="module")
def mpnet() -> MPNetEmbedder:
    """Built once per machine into .cache/models (assembly ~5 s + graph ~10 s), then loads in ~2 s."""
    return MPNetEmbedder(cache_dir=ROOT / ".cache" / "models")


def test_real_model_embeds_unit_vectors_deterministically_in_input_order(mpnet):
    texts = ["Retrieval-augmented generation for question answering.", "A cat sat on the mat.", "Why?"]
    first = mpnet.embed(texts)
    assert first.shape == (3, 768)
    assert first.dtype == np.float32
    assert mpnet.dim == 768
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(mpnet.embed(texts), first)
    np.testing.assert_allclose(mpnet.embed(texts[::-1])[::-1], first, atol=1e-5)
    np.testing.assert_allclose(mpnet.embed_query(texts[1]), first[1], atol=1e-5)
    assert mpnet.embed([]).shape == (0, 768)
    assert mpnet.name == "sentence-transformers/all-mpnet-base-v2"


def test_real_model_ranks_a_paraphrase_above_an_unrelated_text(mpnet):
    query, paraphrase, unrelated = mpnet.embed(
        [
            "A method that lets large language models answer questions using retrieved documents.",
            "An approach where big LLMs respond to queries with the help of fetched passages.",
            "Bake the bread for forty minutes, then let it cool on a wire rack.",
        ]
    )
    assert query @ paraphrase > query @ unrelated + 0.3


# ---------------------------------------------------------------- assembling the folder from the parts


def fake_parts(tmp_path: Path, corrupt: bool = False) -> tuple[list[Path], str]:
    weights = bytes(range(256)) * 64
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name in embeddings.MPNET_FILES:
            data = weights if name == "model.safetensors" else b"{}"
            zf.writestr(f"{embeddings.MPNET_DIRNAME}/{name}", data, compress_type=zipfile.ZIP_STORED)
        zf.writestr(f"{embeddings.MPNET_DIRNAME}/desktop.ini", b"junk")
    blob = bytearray(buffer.getvalue())
    if corrupt:
        blob[blob.find(weights[:300]) + 100] ^= 0xFF  # inside the stored weights: the CRC catches it
    cut = np.linspace(0, len(blob), 6).astype(int)
    parts = []
    for n in range(5):
        part = tmp_path / f"part.{n + 1:03d}"
        part.write_bytes(bytes(blob[cut[n] : cut[n + 1]]))
        parts.append(part)
    return parts, hashlib.sha256(weights).hexdigest()


def test_assembles_the_folder_once_and_atomically(tmp_path, monkeypatch):
    parts, sha = fake_parts(tmp_path)
    monkeypatch.setattr(embeddings, "mpnet_part_files", lambda: parts)
    monkeypatch.setattr(embeddings, "MPNET_SAFETENSORS_SHA256", sha)
    cache = tmp_path / "cache"
    folder = embeddings.mpnet_model_dir(cache)
    assert folder == cache / embeddings.MPNET_DIRNAME
    assert all((folder / name).is_file() for name in embeddings.MPNET_FILES)
    assert not (folder / "desktop.ini").exists()
    assert [p.name for p in cache.iterdir()] == [embeddings.MPNET_DIRNAME]  # no temporary folder left
    monkeypatch.setattr(embeddings, "mpnet_part_files", lambda: pytest.fail("parts read again"))
    assert embeddings.mpnet_model_dir(cache) == folder


@pytest.mark.parametrize("fault", ["bad crc", "wrong sha256", "missing part"])
def test_a_bad_download_leaves_no_folder_and_says_why(tmp_path, monkeypatch, fault):
    parts, sha = fake_parts(tmp_path, corrupt=fault == "bad crc")
    if fault == "missing part":
        parts = parts[:2] + parts[3:]
    monkeypatch.setattr(embeddings, "mpnet_part_files", lambda: parts)
    monkeypatch.setattr(embeddings, "MPNET_SAFETENSORS_SHA256", "0" * 64 if fault == "wrong sha256" else sha)
    cache = tmp_path / "cache"
    with pytest.raises(RuntimeError, match=r"zip|sha256"):
        embeddings.mpnet_model_dir(cache)
    assert list(cache.iterdir()) == []
