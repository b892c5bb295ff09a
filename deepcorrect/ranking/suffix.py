"""The fast path's engine: a network traced with ``torch.fx``, cut at a conv, and only what follows it rerun.

One pass over a batch keeps every value the ranked layers' suffixes need (:func:`run_keeping`); a
:class:`SuffixSplit` then runs only the layers after its conv on stacked swapped copies, in the layout the
prefix ran in, with in-place ReLUs, and skips rerunning the next conv where only per-channel maps lead to it.
BN is folded into the conv before it first (:func:`fold_batchnorm`): the same swap, fewer passes.
"""

from __future__ import annotations

import math

import torch
from torch import fx, nn
from torch.fx.experimental.optimization import fuse
from torch.fx.passes.shape_prop import ShapeProp

from ..models import get_conv


def trace(model: nn.Module) -> fx.GraphModule:
    """``model`` as a ``torch.fx`` graph, or a clear error naming the fallback."""
    try:
        return fx.symbolic_trace(model)
    except Exception as err:
        raise ValueError(f"torch.fx cannot trace {type(model).__name__} ({type(err).__name__}: {err}); "
                         f"rank it with method='literal'") from None


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` with every BN that directly follows a conv folded into that conv's
    weights (``torch.fx``'s conv–BN fusion). Swapping a channel before or after a per-channel BN is the same
    swap, so the ranking is unchanged; the suffix then runs ~a third fewer full-size passes. Untraceable
    models are returned as they are."""
    try:
        return fuse(model.eval(), inplace=False)
    except Exception:  # noqa: BLE001 - tracing failures take the unfused path; SuffixSplit reports them
        return model


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


def activation_bytes(gm: fx.GraphModule, example: torch.Tensor) -> dict[str, int]:
    """Bytes of every node's output for ``example`` (one image), by node name, from one shape-propagating
    pass (``torch.fx``'s ShapeProp)."""
    ShapeProp(gm).propagate(example)
    sizes = {}
    for node in gm.graph.nodes:
        meta = node.meta.get("tensor_meta")
        if node.op != "output" and hasattr(meta, "shape") and hasattr(meta, "dtype"):
            sizes[node.name] = math.prod(meta.shape) * torch.empty((), dtype=meta.dtype).element_size()
    return sizes


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
    Mathematically the same; in floating point the sums are ordered differently (the tests check that the
    counts still equal Algorithm 1's).
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


class _InplaceReLU(fx.Interpreter):
    """Runs a suffix with the ReLUs in ``inplace`` overwriting their input (see ``SuffixSplit._inplace_relus``)."""

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


def _format(value: torch.Tensor) -> torch.memory_format:
    """Keep a 4-D value in the layout it came in (channels_last where the prefix ran in it)."""
    if value.dim() == 4 and value.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    return torch.contiguous_format


def _repeat(value, k: int, batch: int):
    """A prefix value once per stacked swap where it has the batch dimension; anything else as it is."""
    if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape[0] == batch:
        return value.repeat(k, *([1] * (value.dim() - 1)))
    return value
