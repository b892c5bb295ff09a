"""Correction priority of every filter (paper §4.1, Eq. 1, Algorithm 1), exact and batched, for any CNN.

τ(i, j) = p_swp(i, j) − p_b: the gain in top-1 on the ranking set when the output of filter j of conv layer i
is replaced by its clean value while the rest of the network sees the distorted image.

The fast path never runs the whole network per filter. The model is traced with ``torch.fx`` (BN folded into
the conv before it); one pass over the clean and one over the distorted images keep every ranked layer's
output and every prefix value its suffix needs; then ``chunk_filters`` swapped copies of layer i's output are
stacked into one batch and only the suffix after layer i runs on it, with the prefix values it needs (skip
connections included) repeated alongside, in NHWC, ReLUs in place. Where only per-channel maps (BN, ReLU,
pooling) lead to the next conv, that conv is not rerun either: a swap adds one channel's contribution to its
distorted output. The tests check that the correct-prediction counts equal those of the
literal algorithm (:func:`literal_counts`), which stays here as the fallback for models ``torch.fx`` cannot
trace.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field

import pandas as pd
import torch
from torch import fx, nn
from tqdm import tqdm

from . import distributed as dd
from .config import RankingConfig
from .data import TensorData
from .distortions import NUM_LEVELS, distort, noise_seed
from .models import capture, conv_layers, get_conv, swap_filters
from .models.layers import count_macs
from .runtime import float32_exact


@dataclass
class Ranking:
    """Raw correct-prediction counts, kept so results can be audited, and the scores derived from them.

    ``counts[layer]`` has shape (kinds, levels, filters): correct predictions with that filter swapped;
    ``base`` (kinds, levels): correct predictions with no swap (p_b · M); ``n_images`` = M; ``levels`` the
    distortion levels ranked (the paper: 1–6).
    """

    layers: list[str]
    kinds: list[str]
    levels: list[int]
    n_images: int
    base: torch.Tensor
    counts: dict[str, torch.Tensor]
    seconds: float = 0.0
    meta: dict = field(default_factory=dict)

    def tau(self, layer: str, kind: str) -> torch.Tensor:
        """Eq. 1 per level: (levels, filters) gains in top-1 accuracy."""
        k = self._kind(kind)
        return (self.counts[self._layer(layer)][k] - self.base[k][:, None]).double() / self.n_images

    def score(self, layer: str, kind: str, method: str = "paper") -> torch.Tensor:
        """Priority per filter: the mean over levels of τ (``paper``), or of the relative error reduction
        |err_swp − err_dist| / err_dist (``release``, the authors' code)."""
        if method == "paper":
            return self.tau(layer, kind).mean(0)
        if method == "release":
            k = self._kind(kind)
            err_swp = 1 - self.counts[self._layer(layer)][k].double() / self.n_images
            err_dist = (1 - self.base[k].double() / self.n_images)[:, None]
            return ((err_swp - err_dist).abs() / err_dist.clamp_min(1e-12)).mean(0)
        raise ValueError(f"unknown ranking score {method!r}; expected 'paper' or 'release'")

    def order(self, layer: str, kind: str, method: str = "paper") -> torch.Tensor:
        """Filter indices by descending priority; ties go to the lower index (deterministic)."""
        s = self.score(layer, kind, method)
        idx = torch.arange(s.numel())
        return torch.tensor(sorted(idx.tolist(), key=lambda j: (-float(s[j]), j)), dtype=torch.long)

    def to_frame(self, method: str = "paper") -> pd.DataFrame:
        """One row per (kind, layer, filter): τ per level, their mean, the score and the rank in the layer."""
        rows = []
        for kind in self.kinds:
            for layer in self.layers:
                tau = self.tau(layer, kind)
                score = self.score(layer, kind, method)
                rank = torch.empty_like(score, dtype=torch.long)
                rank[self.order(layer, kind, method)] = torch.arange(1, score.numel() + 1)
                for j in range(score.numel()):
                    rows.append({"kind": kind, "layer": layer, "filter": j,
                                 **{f"tau_L{lv}": float(tau[i, j]) for i, lv in enumerate(self.levels)},
                                 "tau_mean": float(tau[:, j].mean()), "score": float(score[j]),
                                 "rank": int(rank[j])})
        return pd.DataFrame(rows)

    def to_payload(self) -> dict:
        return {"layers": self.layers, "kinds": self.kinds, "levels": self.levels, "n_images": self.n_images,
                "base": self.base, "counts": self.counts, "seconds": self.seconds, "meta": self.meta}

    @classmethod
    def from_payload(cls, p: dict) -> Ranking:
        return cls(list(p["layers"]), list(p["kinds"]), list(p["levels"]), int(p["n_images"]), p["base"],
                   dict(p["counts"]), float(p["seconds"]), dict(p["meta"]))

    def _kind(self, kind: str) -> int:
        if kind not in self.kinds:
            raise ValueError(f"this ranking covers {', '.join(self.kinds)}, not {kind!r}")
        return self.kinds.index(kind)

    def _layer(self, layer: str) -> str:
        if layer not in self.counts:
            raise ValueError(f"unknown layer {layer!r}; this ranking covers: {', '.join(self.layers)}")
        return layer


def compare_counts(first: Ranking, second: Ranking) -> pd.DataFrame:
    """Per layer: whether two rankings of the same network and images (e.g. the fast and the literal path)
    counted the same correct predictions for every filter, kind and level, and the largest difference."""
    rows = []
    for layer in first.layers:
        a, b = first.counts[layer].long(), second.counts[layer].long()
        same = a.shape == b.shape
        rows.append({"layer": layer, "filters": int(a.shape[-1]), "equal": bool(same and torch.equal(a, b)),
                     "largest difference": int((a - b).abs().max()) if same and a.numel() else -1})
    return pd.DataFrame(rows).set_index("layer")


def ranked_layers(model: nn.Module) -> list[str]:
    """The layers the paper ranks: the first six convs of All-Conv-BN, all five of AlexNet; for any other
    model every conv layer."""
    layers = conv_layers(model)
    from .models import AllConvBN

    return layers[:6] if isinstance(model, AllConvBN) else layers


def ranking_set(data: TensorData, per_class: int, seed: int) -> TensorData:
    """``per_class`` images of every class (10 from the validation split for CIFAR, 5 from the training split
    for ImageNet), seeded; an error if the split holds fewer."""
    have = int(torch.bincount(data.labels.cpu()).min()) if len(data) else 0
    if per_class > have:
        raise ValueError(f"the ranking set needs {per_class} images per class but the split has only {have} "
                         f"for some class; lower per_class or use a larger split")
    return data.per_class(per_class, seed)


def rank_filters(model: nn.Module, data: TensorData, family: str, cfg: RankingConfig = RankingConfig(), *,
                 device: torch.device | str = "cpu", method: str = "fast", progress: bool = True,
                 group: dd.Group | None = None) -> Ranking:
    """Correct-prediction counts for every filter of ``cfg.layers`` (default :func:`ranked_layers`), every
    kind and level, on ``data`` (already the ranking set). ``method`` is ``fast`` (batched suffix) or
    ``literal`` (Algorithm 1 as written: the whole network per filter). With ``group``, each rank evaluates
    its share of every layer's filters and the counts are summed over ranks: every rank returns them all."""
    if method not in ("fast", "literal"):
        raise ValueError(f"unknown ranking method {method!r}; expected 'fast' or 'literal'")
    device = torch.device(device)
    model = model.eval().to(device)
    layers = list(cfg.layers) or ranked_layers(model)
    if not layers:
        raise ValueError(f"{type(model).__name__} has no nn.Conv2d layer: ranking needs conv filters to swap")
    if len(data) == 0:
        raise ValueError("the ranking set is empty; it needs images of every class")
    for layer in layers:
        get_conv(model, layer)
    sizes = {layer: get_conv(model, layer).out_channels for layer in layers}
    mine = {layer: dd.shard(torch.arange(n, device=device), group) for layer, n in sizes.items()}
    splits = {}
    if method == "fast":
        model = fold_batchnorm(model)
        if cfg.channels_last:
            model = model.to(memory_format=torch.channels_last)
        graph = trace(model)
        splits = {layer: SuffixSplit(graph, layer, cfg.shortcut) for layer in layers}
        keep = set().union(*(split.needs for split in splits.values()))
    n_levels = len(cfg.levels)
    base = torch.zeros(len(cfg.kinds), n_levels, dtype=torch.long)
    counts = {layer: torch.zeros(len(cfg.kinds), n_levels, n, dtype=torch.long) for layer, n in sizes.items()}
    n_chunks = math.ceil(len(data) / cfg.chunk_images)
    total = n_chunks * len(cfg.kinds) * n_levels * sum(len(f) for f in mine.values())
    bar = tqdm(total=total, unit="filter", desc="ranking", disable=None if progress and dd.is_main(group) else True)
    t0 = time.perf_counter()
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" and cfg.bf16
                else nullcontext())
    chunks = {}  # per ranked layer: swapped copies per suffix run, sized once from the first image batch
    with torch.inference_mode(), autocast, float32_exact(device.type == "cuda" and not cfg.bf16):
        index = torch.arange(len(data)).split(cfg.chunk_images)
        for batch_no, (idx, whole) in enumerate(zip(index, data.batches(index, device))):
            whole = whole.float()
            images = data.cropped(whole)  # distorted whole, seen cropped (TensorData.crop)
            if splits and cfg.channels_last and images.dim() == 4:
                images = images.contiguous(memory_format=torch.channels_last)
            labels = data.labels[idx].to(device)
            if splits:  # one pass keeps every ranked layer's clean output
                clean = run_keeping(graph, images, keep)[1]
                if not chunks:
                    per_image = activation_bytes(graph, images[:1].clone())
                    chunks = {layer: cfg.chunk_filters or filters_per_run(
                        device, len(images) * split.suffix_bytes(per_image), len(mine[layer]))
                        for layer, split in splits.items()}
            for k, kind in enumerate(cfg.kinds):
                for li, lv in enumerate(cfg.levels):
                    g = torch.Generator(device).manual_seed(noise_seed(cfg.seed, kind, lv, batch_no))
                    distorted = data.cropped(distort(whole, kind, lv, family, generator=g, clip=cfg.clip))
                    if splits and cfg.channels_last and distorted.dim() == 4:
                        distorted = distorted.contiguous(memory_format=torch.channels_last)
                    if splits:  # and one pass gives the base predictions and every prefix value the swaps need
                        logits, distorted = run_keeping(graph, distorted, keep)
                    else:
                        logits = model(distorted)
                    base[k, li] += (logits.argmax(1) == labels).sum().cpu()
                    for layer in layers:
                        if splits:
                            c = splits[layer].swap_counts(clean[splits[layer].target], distorted, labels,
                                                          chunks[layer], mine[layer])
                        else:
                            c = literal_counts(model, layer, images, distorted, labels, mine[layer])
                        counts[layer][k, li] += c.cpu()
                        bar.update(len(mine[layer]))
                        bar.set_postfix(filters_per_s=f"{bar.n / max(time.perf_counter() - t0, 1e-9):.0f}")
    bar.close()
    counts = {layer: dd.all_sum(c, group) for layer, c in counts.items()}  # each filter was counted on one rank
    return Ranking(layers, list(cfg.kinds), list(cfg.levels), len(data), base, counts, time.perf_counter() - t0,
                   {"method": method, "device": str(device), "bf16": cfg.bf16 and device.type == "cuda"})


def filters_per_run(device: torch.device, copy_bytes: int, n_filters: int, *, cpu_filters: int = 4,
                    share: float = 0.5) -> int:
    """How many swapped copies one suffix run stacks (``chunk_filters=0``). On a GPU: as many as fit in
    ``share`` of the free memory, so a layer takes one or a few large runs instead of thousands of small,
    launch-bound ones through the fx interpreter. On the CPU: ``cpu_filters``, which keeps the stacked
    activations in cache (measured fastest here). Speed only: each filter's count is computed alone."""
    if device.type != "cuda":
        return max(1, min(n_filters, cpu_filters))
    free, _ = torch.cuda.mem_get_info(device)
    return max(1, min(n_filters, int(free * share) // max(copy_bytes, 1)))


def activation_bytes(gm: fx.GraphModule, example: torch.Tensor) -> dict[str, int]:
    """Bytes of every node's output for ``example`` (one image), by node name, from one shape-propagating
    pass (``torch.fx``'s ShapeProp)."""
    from torch.fx.passes.shape_prop import ShapeProp

    ShapeProp(gm).propagate(example)
    sizes = {}
    for node in gm.graph.nodes:
        meta = node.meta.get("tensor_meta")
        if node.op != "output" and hasattr(meta, "shape") and hasattr(meta, "dtype"):
            sizes[node.name] = math.prod(meta.shape) * torch.empty((), dtype=meta.dtype).element_size()
    return sizes


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` with every BN that directly follows a conv folded into that conv's
    weights (``torch.fx``'s conv–BN fusion). Swapping a channel before or after a per-channel BN is the same
    swap, so the ranking is unchanged; the suffix then runs ~a third fewer full-size passes. Untraceable
    models are returned as they are."""
    from torch.fx.experimental.optimization import fuse

    try:
        return fuse(model.eval(), inplace=False)
    except Exception:  # noqa: BLE001 - tracing failures take the unfused path; SuffixSplit reports them
        return model


#: Modules that act on each channel separately (in eval mode), so a one-channel swap passes through them.
_PER_CHANNEL = (nn.BatchNorm2d, nn.ReLU, nn.Identity, nn.Dropout, nn.MaxPool2d, nn.AvgPool2d)
#: ReLU written as a call (``F.relu(x)``, ``torch.relu(x)``, ``F.relu(x, inplace=True)``, ``x.relu_()``), as much
#: research code does: the trace records these as function or method calls, not as ``nn.ReLU`` modules.
_RELU_FUNCTIONS = (nn.functional.relu, nn.functional.relu_, torch.relu, torch.relu_)
_RELU_METHODS = ("relu", "relu_")


def _is_relu(gm: fx.GraphModule, n: fx.Node) -> bool:
    """Whether node ``n`` is a ReLU of its one tensor argument, however the network wrote it."""
    if n.op == "call_module":
        return isinstance(gm.get_submodule(n.target), nn.ReLU)
    if len(n.args) != 1 or set(n.kwargs) - {"inplace"}:
        return False
    return (n.op == "call_function" and n.target in _RELU_FUNCTIONS) or (
        n.op == "call_method" and n.target in _RELU_METHODS)


def _per_channel(gm: fx.GraphModule, n: fx.Node) -> bool:
    """Whether node ``n`` maps each channel of its one input alone (a swap of one channel stays one channel)."""
    if _is_relu(gm, n):
        return True
    return (n.op == "call_module" and isinstance(gm.get_submodule(n.target), _PER_CHANNEL) and len(n.args) == 1
            and not n.kwargs)


class SuffixSplit:
    """``model`` traced with ``torch.fx`` and cut at conv ``layer``: :meth:`prefix` computes the layer's output
    and every earlier value the rest of the network uses; :meth:`suffix` runs only the rest.

    With ``shortcut``, when the layer's output reaches the next conv only through per-channel maps (BN in eval
    mode, ReLU — a module or a call such as ``F.relu``), that next conv is not rerun per swap: it is linear in
    its input channels, so swapping channel j adds ``conv(a_clean_j − a_dist_j)`` with filter j's weights alone
    to its distorted output.
    Mathematically the same; in floating point the sums are ordered differently (see :func:`rank_filters`).
    """

    def __init__(self, model: nn.Module, layer: str, shortcut: bool = False):
        get_conv(model, layer)
        self.gm = model if isinstance(model, fx.GraphModule) else trace(model)
        self.nodes = list(self.gm.graph.nodes)
        t = next((i for i, n in enumerate(self.nodes) if n.op == "call_module" and n.target == layer), None)
        if t is None:
            raise ValueError(f"layer {layer!r} is not called in the traced forward pass")
        self.target = self.nodes[t]
        self.before, self.live = self._cut(t)
        self.chain, self.next_conv = self._linear_chain() if shortcut else ([], None)
        if self.next_conv is not None:
            self.before_next, self.live_next = self._cut(self.nodes.index(self.next_conv))
        self.inplace = self._inplace_relus()
        #: the prefix values :meth:`swap_counts` reads from a :func:`run_keeping` pass
        self.needs = {self.target, *self.live, *getattr(self, "live_next", ())}

    def suffix_bytes(self, per_image: dict[str, int]) -> int:
        """An upper bound on one swapped copy's memory per image: the swapped value, every value the suffix
        computes and the prefix values repeated alongside (the interpreter frees values after their last use,
        so the true peak is lower)."""
        start, live = (self.target, self.live) if self.next_conv is None else (self.next_conv, self.live_next)
        suffix = self.nodes[self.nodes.index(start):]
        return sum(per_image.get(n.name, 0) for n in [*suffix, *live])

    def _cut(self, index: int) -> tuple[list, list]:
        after = set(self.nodes[index + 1:])
        return self.nodes[:index + 1], [n for n in self.nodes[:index] if any(u in after for u in n.users)]

    def _inplace_relus(self) -> set:
        """ReLUs of the suffix that may overwrite their input: it is computed in the suffix (or is the swapped
        value, fresh per chunk) and nothing else reads it. Saves one full-size allocation per ReLU."""
        shared = set(self.live) | set(getattr(self, "live_next", ()))
        return {n for n in self.nodes if _is_relu(self.gm, n) and len(n.args) == 1 and isinstance(n.args[0], fx.Node)
                and len(n.args[0].users) == 1 and n.args[0].op != "placeholder" and n.args[0] not in shared}

    def _linear_chain(self) -> tuple[list, fx.Node | None]:
        """The per-channel modules between the target and the next conv, and that conv (or no shortcut)."""
        chain, node = [], self.target
        while len(node.users) == 1:
            (user,) = node.users
            module = self.gm.get_submodule(user.target) if user.op == "call_module" else None
            if isinstance(module, nn.Conv2d) and module.padding_mode == "zeros" and len(user.args) == 1:
                return chain, user
            if not _per_channel(self.gm, user):
                break
            chain.append(user)
            node = user
        return [], None

    def prefix(self, x: torch.Tensor) -> tuple[dict, torch.Tensor]:
        interp = fx.Interpreter(self.gm, garbage_collect_values=False)
        interp.env = {}
        interp.args_iter = iter([x])
        for node in self.before:
            interp.env[node] = interp.run_node(node)
        return {n: interp.env[n] for n in self.live}, interp.env[self.target]

    def suffix(self, live: dict, value: torch.Tensor, at: fx.Node | None = None):
        """Run the network after node ``at`` (default: the target layer) with ``value`` as that node's output."""
        before = self.before if at is None else self.before_next
        env = dict.fromkeys(before)
        env.update(live)
        env[at or self.target] = value
        return _InplaceReLU(self.gm, self.inplace).run(initial_env=env, enable_io_processing=False)

    def swap_counts(self, y_clean: torch.Tensor, distorted: torch.Tensor | dict, labels: torch.Tensor,
                    chunk: int, filters: torch.Tensor | None = None) -> torch.Tensor:
        """Correct predictions (per filter) when each filter alone takes its clean output ``y_clean``
        (the layer's output for the clean images). ``distorted``: the distorted images, or the values a
        :func:`run_keeping` pass of them recorded (then no prefix runs here). Only ``filters`` (default all)
        are evaluated; the others count 0."""
        if isinstance(distorted, torch.Tensor):
            live, y_dist = self.prefix(distorted)
        else:
            live, y_dist = {n: distorted[n] for n in self.live}, distorted[self.target]
        if y_clean.shape != y_dist.shape:
            raise ValueError(f"clean and distorted outputs of {self.target.target!r} differ in shape: "
                             f"{tuple(y_clean.shape)} vs {tuple(y_dist.shape)}")
        n_filters, batch = y_dist.shape[1], y_dist.shape[0]
        layout = _format(y_dist)  # the suffix runs in the layout the prefix ran in
        if self.next_conv is not None:
            a_clean, a_dist = self._through_chain(y_clean), self._through_chain(y_dist)
            conv = self.gm.get_submodule(self.next_conv.target)
            z_dist = conv(a_dist)
            live = {n: v for n, v in live.items() if n in self.live_next}
        out = torch.zeros(n_filters, dtype=torch.long, device=y_dist.device)
        filters = torch.arange(n_filters) if filters is None else filters
        for js in filters.to(y_dist.device).split(chunk):
            k = js.numel()
            repeated = {n: _repeat(v, k, batch) for n, v in live.items()}
            if self.next_conv is None:
                stacked = y_dist.repeat(k, *([1] * (y_dist.dim() - 1))).view(k, *y_dist.shape)
                stacked[torch.arange(k, device=js.device), :, js] = y_clean[:, js].transpose(0, 1)
                logits = self.suffix(repeated, stacked.view(k * batch, *y_dist.shape[1:])
                                     .contiguous(memory_format=layout))
            else:
                z = _one_channel_conv(conv, a_clean[:, js] - a_dist[:, js], js)  # (k, B, C_out, H, W)
                z = z.add_(z_dist).flatten(0, 1).contiguous(memory_format=layout)  # a view where NHWC already
                logits = self.suffix(repeated, z, at=self.next_conv)
            out[js] = (logits.argmax(1).view(k, batch) == labels).sum(1)
        return out

    def _through_chain(self, y: torch.Tensor) -> torch.Tensor:
        y = y.clone()  # in-place ReLUs must not touch the caller's tensor
        for node in self.chain:
            y = y.relu_() if _is_relu(self.gm, node) else self.gm.get_submodule(node.target)(y)
        return y


def trace(model: nn.Module) -> fx.GraphModule:
    """``model`` as a ``torch.fx`` graph, or a clear error naming the fallback."""
    try:
        return fx.symbolic_trace(model)
    except Exception as err:
        raise ValueError(f"torch.fx cannot trace {type(model).__name__} ({type(err).__name__}: {err}); "
                         f"rank it with method='literal'") from None


class _Keeping(fx.Interpreter):
    """Runs the whole graph, freeing values as usual, but keeps those of the nodes in ``keep``."""

    def __init__(self, gm: fx.GraphModule, keep: set):
        super().__init__(gm)
        self.keep, self.kept = keep, {}

    def run_node(self, n: fx.Node):
        value = super().run_node(n)
        if n in self.keep:
            self.kept[n] = value
        return value


def run_keeping(gm: fx.GraphModule, x: torch.Tensor, keep: set) -> tuple[torch.Tensor, dict]:
    """One forward pass of ``gm``: its output and the values of the ``keep`` nodes (every prefix value the
    ranked layers' suffixes need), instead of one prefix pass per layer."""
    interp = _Keeping(gm, keep)
    return interp.run(x), interp.kept


class _InplaceReLU(fx.Interpreter):
    def __init__(self, gm: fx.GraphModule, inplace: set):
        super().__init__(gm)
        self.inplace = inplace

    def run_node(self, n: fx.Node):
        if n in self.inplace:
            return self.env[n.args[0]].relu_()
        return super().run_node(n)


def _one_channel_conv(conv: nn.Conv2d, delta: torch.Tensor, js: torch.Tensor) -> torch.Tensor:
    """For each channel j in ``js``: ``conv`` applied to an input that is zero except channel j = delta[:, i],
    without bias. Returns (k, B, C_out, H', W'), laid out channels-last in memory (a view of a (k, B, H', W',
    C_out) tensor), so the caller can add the distorted output in place and hand the suffix NHWC input without
    a copy. One channel's patches (im2col) times that channel's weights is a batched matrix multiply — several
    times faster on CPUs than a grouped conv with one input channel per group."""
    c_out, c_in_group = conv.out_channels, conv.in_channels // conv.groups
    b, k, h, w = delta.shape
    group = js // c_in_group
    rows = torch.arange(c_out, device=js.device)
    in_group = (rows[None] // (c_out // conv.groups)) == group[:, None]  # (k, C_out): outputs channel j reaches
    weight = conv.weight[:, js % c_in_group].transpose(0, 1) * in_group[:, :, None, None]  # (k, C_out, kh, kw)
    if isinstance(conv.padding, str):  # 'same' / 'valid': let the conv work out the geometry
        out = nn.functional.conv2d(delta, weight.reshape(k * c_out, 1, *conv.kernel_size), None, conv.stride,
                                   conv.padding, conv.dilation, groups=k)
        return out.view(b, k, c_out, *out.shape[2:]).transpose(0, 1)
    cols = nn.functional.unfold(delta.transpose(0, 1).reshape(k * b, 1, h, w), conv.kernel_size, conv.dilation,
                                conv.padding, conv.stride)  # (k·B, kh·kw, L)
    size = [(n + 2 * p - d * (kk - 1) - 1) // st + 1 for n, p, d, kk, st in
            zip((h, w), conv.padding, conv.dilation, conv.kernel_size, conv.stride)]
    out = torch.matmul(cols.view(k, b, cols.shape[1], cols.shape[2]).transpose(2, 3),
                       weight.reshape(k, 1, c_out, -1).transpose(2, 3))  # (k, B, L, C_out)
    return out.view(k, b, *size, c_out).permute(0, 1, 4, 2, 3)


def literal_counts(model: nn.Module, layer: str, clean: torch.Tensor, distorted: torch.Tensor,
                   labels: torch.Tensor, filters: torch.Tensor | None = None) -> torch.Tensor:
    """Algorithm 1 as written: for each filter (of ``filters``, default all), the clean output of the layer
    and a whole forward pass of the distorted images with that one channel swapped through a forward hook."""
    n = get_conv(model, layer).out_channels
    out = torch.zeros(n, dtype=torch.long, device=clean.device)
    for j in (range(n) if filters is None else filters.tolist()):
        with capture(model, layer) as acts:
            model(clean)
        with swap_filters(model, layer, [j], acts[layer]):
            out[j] = (model(distorted).argmax(1) == labels).sum()
    return out


def _format(value: torch.Tensor) -> torch.memory_format:
    """Keep a 4-D value in the layout it came in (channels_last where the prefix ran in it)."""
    if value.dim() == 4 and value.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    return torch.contiguous_format


def _repeat(value, k: int, batch: int):
    if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape[0] == batch:
        return value.repeat(k, *([1] * (value.dim() - 1)))
    return value


# ----------------------------------------------------------------------------------------------------------
# Cost model: what a ranking must compute, from the network's own layer costs


def layer_macs(model: nn.Module, example: torch.Tensor) -> dict[str, int]:
    """Multiply-accumulates of each conv and linear layer for one image, in the order the forward pass runs them."""
    return count_macs(model, example, {m: n for n, m in model.named_modules()
                                       if isinstance(m, (nn.Conv2d, nn.Linear))})


def ranking_macs(model: nn.Module, layers: Sequence[str], example: torch.Tensor, shortcut: bool = True) -> int:
    """MACs per ranking image that exact suffix-only evaluation of every filter of ``layers`` needs: for each
    filter the layers after its own in forward order; with ``shortcut``, the next conv at 1/C_in of its cost
    where the one-channel shortcut applies. Against :func:`literal_macs`, the bound of the fast path's speed-up."""
    per_layer = layer_macs(model, example)
    order = list(per_layer)
    graph = trace(fold_batchnorm(model)) if shortcut else None
    total = 0
    for layer in layers:
        cost = sum(per_layer[n] for n in order[order.index(layer) + 1:])
        nxt = SuffixSplit(graph, layer, shortcut=True).next_conv if shortcut else None
        if nxt is not None:
            cost -= per_layer[nxt.target] * (1 - 1 / model.get_submodule(nxt.target).in_channels)
        total += get_conv(model, layer).out_channels * cost
    return total


def literal_macs(model: nn.Module, layers: Sequence[str], example: torch.Tensor) -> int:
    """MACs per ranking image of the literal Algorithm 1 (:func:`literal_counts`): two whole passes per filter."""
    whole = sum(layer_macs(model, example).values())
    return sum(2 * whole * get_conv(model, layer).out_channels for layer in layers)


# ----------------------------------------------------------------------------------------------------------
# Selection


def n_selected(beta: float, n: int, release: bool = False) -> int:
    """How many of ``n`` filters a fraction β selects: round(β·N) (the paper: 48 of 96, 96 of 192), or the
    release's round(β·N·1.0417) (50 and 100)."""
    if not (isinstance(beta, (int, float)) and 0 < beta <= 1):
        raise ValueError(f"β must be in (0, 1], got {beta!r}")
    return min(n, math.floor(beta * n * (1.0417 if release else 1.0) + 0.5))


def select_local(ranking: Ranking, kind: str, betas: dict[str, float] | float, *, method: str = "paper",
                 release_count: bool = False) -> dict[str, torch.Tensor]:
    """The top β_i·N_i filters of each layer by its own priority order."""
    betas = _betas(ranking, betas)
    return {layer: ranking.order(layer, kind, method)[:n_selected(b, ranking.counts[layer].shape[-1], release_count)]
            for layer, b in betas.items()}


def select_global(ranking: Ranking, kind: str, betas: dict[str, float] | float, *, method: str = "paper",
                  release_count: bool = False) -> dict[str, torch.Tensor]:
    """The top K filters over all ranked layers together, K = the local total; ties go to the earlier layer,
    then the lower filter index."""
    betas = _betas(ranking, betas)
    k = sum(n_selected(b, ranking.counts[layer].shape[-1], release_count) for layer, b in betas.items())
    pool = []
    for li, layer in enumerate(betas):
        s = ranking.score(layer, kind, method)
        pool += [(-float(s[j]), li, j, layer) for j in range(s.numel())]
    chosen = sorted(pool)[:k]
    return {layer: torch.tensor(sorted(j for _, _, j, lay in chosen if lay == layer), dtype=torch.long)
            for layer in betas}


def _betas(ranking: Ranking, betas: dict[str, float] | float) -> dict[str, float]:
    if not isinstance(betas, dict):
        betas = dict.fromkeys(ranking.layers, betas)
    for layer, b in betas.items():
        ranking._layer(layer)
        n_selected(b, 1)
    return betas


# ----------------------------------------------------------------------------------------------------------
# Ideal correction


def ideal_accuracy(model: nn.Module, data: TensorData, kind: str, level: int, family: str,
                   selection: dict[str, Sequence[int] | torch.Tensor], **kwargs) -> float:
    """Top-1 on ``data`` at one level when the ``selection`` (layer → filters) outputs its clean activations."""
    return ideal_curve(model, data, kind, family, selection, levels=[level], **kwargs)[0]


@torch.inference_mode()
def ideal_curve(model: nn.Module, data: TensorData, kind: str, family: str,
                selection: dict[str, Sequence[int] | torch.Tensor], *, levels: Sequence[int] = range(NUM_LEVELS + 1),
                device: torch.device | str = "cpu", batch_size: int = 500, seed: int = 0,
                clip: bool = False) -> list[float]:
    """Top-1 at each of ``levels`` when the ``selection`` (layer → filters) outputs its clean activations
    (what Figures 4 and 5 plot). The clean activations of each batch are computed once for all levels."""
    from .evaluate import distorted_batches

    device = torch.device(device)
    model.eval().to(device)
    for layer in selection:
        get_conv(model, layer)
    correct = [0] * len(levels)
    streams = [distorted_batches(data, kind, lv, family, device=device, batch_size=batch_size, seed=seed, clip=clip)
               for lv in levels]
    for (x_clean, y), *distorted in zip(distorted_batches(data, kind, 0, family, device=device,
                                                          batch_size=batch_size, seed=seed), *streams):
        with capture(model, list(selection)) as acts:
            model(x_clean)
        with ExitStack() as stack:
            for layer, filters in selection.items():
                if len(filters):
                    stack.enter_context(swap_filters(model, layer, [int(j) for j in filters], acts[layer]))
            for i, (x, _) in enumerate(distorted):
                correct[i] += int((model(x).argmax(1) == y).sum())
    return [c / len(data) for c in correct]
