"""Benchmark: literal Algorithm 1 vs the batched fast path, same filters, same images, one run, on All-Conv-BN,
on the CIFAR ResNet-20 (pretrained weights from ../shared/data when present) and on a ResNet-32 written as
much research code writes it, its ReLUs functional (``F.relu`` in ``forward``, no ``nn.ReLU`` module).

The literal path runs, for every filter, the clean network and the whole distorted network with that one
channel swapped (Algorithm 1 as written); the fast path runs the prefix once and only the suffix for stacked
swaps. For each network: filter evaluations per second both ways, whether the counts are identical, peak
memory, and the ratio beside the bound that exact suffix-only evaluation allows on that network (the literal
loop's MACs per filter ÷ the MACs of everything after the filter's layer, from the network's own layer costs;
the one-channel shortcut can beat it). The last line gives every ratio; bench/out/ranking.json keeps them.

Usage: python bench/bench_ranking.py [--images 50] [--resnet-images 20] [--functional-images 10] [--width 0.25]
                                     [--device cpu]
"""

from __future__ import annotations

import resource
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from deepcorrect.config import RankingConfig
from deepcorrect.models import AllConvBN, CifarResNet, load_weights
from deepcorrect.models.resnet import BasicBlock
from deepcorrect.ranking import rank_filters, ranked_layers
from deepcorrect.ranking.cost import literal_macs, ranking_macs

from deepcorrect.runtime import keep_freed_memory
from _report import embedded_images, save
from _report import parser as bench_parser  # bench/ is on sys.path when a benchmark runs as a script

RESNET20_WEIGHTS = Path(__file__).resolve().parents[2] / "shared" / "data" / "pretrained" / "resnet20-12fca82f.th"


class FunctionalBlock(BasicBlock):
    """The CIFAR block with its ReLUs called as functions: the trace records ``F.relu`` calls, not modules."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(nn.functional.relu(self.bn1(self.conv1(x)))))
        return nn.functional.relu(out + self.shortcut(x))


class FunctionalResNet(CifarResNet):
    """A CIFAR ResNet whose every ReLU is ``F.relu`` in ``forward`` (its ReLU modules are never called)."""

    def __init__(self, depth: int = 32):
        super().__init__(depth)
        for m in self.modules():
            if type(m) is BasicBlock:
                m.__class__ = FunctionalBlock

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.relu(self.bn1(self.conv1(self.norm(x))))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.linear(self.flatten(self.pool(x)))


def timed(model, data, cfg, method, device):
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    ranking = rank_filters(model, data, "cifar", cfg, device=device, method=method, progress=False)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return ranking, time.perf_counter() - t0


def race(name: str, model: torch.nn.Module, images: int, device: torch.device) -> dict:
    """Both methods on every ranked layer of ``model``, one AWGN level; the counts must agree."""
    model = model.eval().to(device)
    data = embedded_images(images)
    cfg = RankingConfig(kinds=("awgn",), levels=(3,))  # default chunking and shortcut
    layers = ranked_layers(model)
    warm = data.subset(torch.arange(10))
    for method in ("fast", "literal"):  # warm-up: allocator, oneDNN kernels, fx tracing
        rank_filters(model, warm, "cifar", replace(cfg, layers=(layers[-1],)), device=device, method=method,
                     progress=False)
    fast, fast_s = timed(model, data, cfg, "fast", device)
    literal, literal_s = timed(model, data, cfg, "literal", device)
    filters = sum(c.shape[-1] for c in fast.counts.values())
    example = data.images[:1].float().to(device)
    bound = literal_macs(model, layers, example) / ranking_macs(model, layers, example, shortcut=False)
    result = {"network": name, "images": len(data), "filters": filters, "layers": len(layers),
              "literal_filters_per_s": filters / literal_s, "fast_filters_per_s": filters / fast_s,
              "identical_counts": all(torch.equal(fast.counts[la], literal.counts[la]) for la in fast.layers),
              "ratio": literal_s / fast_s, "mac_bound": bound,
              "mac_bound_with_shortcut": literal_macs(model, layers, example) / ranking_macs(model, layers, example)}
    result["share_of_bound"] = result["ratio"] / bound
    print(f"{name}: {filters} filters in {len(layers)} layers x {len(data)} images, one distortion level, on {device}")
    print(f"  literal Algorithm 1: {result['literal_filters_per_s']:.1f} filter-evaluations/s ({literal_s:.1f} s)")
    print(f"  fast path:           {result['fast_filters_per_s']:.1f} filter-evaluations/s ({fast_s:.1f} s)")
    print(f"  identical counts: {result['identical_counts']}; ratio {result['ratio']:.1f}x against a MAC bound of "
          f"{bound:.1f}x for suffix-only evaluation ({result['share_of_bound']:.0%} of it; "
          f"{result['mac_bound_with_shortcut']:.1f}x with the one-channel shortcut)")
    return result


def main() -> None:
    keep_freed_memory()  # both sides of the comparison run with the same allocator settings
    parser = bench_parser(__doc__)
    parser.add_argument("--images", type=int, default=50, help="All-Conv-BN ranking-set size (default 50)")
    parser.add_argument("--resnet-images", type=int, default=20, help="ResNet-20 ranking-set size (default 20)")
    parser.add_argument("--functional-images", type=int, default=10,
                        help="functional-ReLU ResNet-32 ranking-set size (default 10)")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    resnet = CifarResNet(20)
    if RESNET20_WEIGHTS.is_file():
        load_weights(resnet, RESNET20_WEIGHTS)
    results = [race(f"All-Conv-BN width {args.width:g}", AllConvBN(10, width=args.width), args.images, device),
               race("ResNet-20" + (" (pretrained)" if RESNET20_WEIGHTS.is_file() else " (random init)"), resnet,
                    args.resnet_images, device),
               race("ResNet-32 with functional ReLUs (random init)", FunctionalResNet(32), args.functional_images,
                    device)]
    peak = (torch.cuda.max_memory_allocated() if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    save("ranking", {"device": str(device), "runs": results, "peak_memory_bytes": peak,
                     "ratio": results[0]["ratio"], "resnet20_ratio": results[1]["ratio"],
                     "functional_resnet32_ratio": results[2]["ratio"]})
    print(f"peak memory {peak / 2**20:.0f} MiB ({'CUDA allocated' if device.type == 'cuda' else 'process max RSS'})")
    print("ratio fast/literal: " + "; ".join(f"{r['network']} {r['ratio']:.1f}x ({r['share_of_bound']:.0%} of "
                                             f"its {r['mac_bound']:.1f}x MAC bound)" for r in results))
    if not all(r["identical_counts"] for r in results):
        raise SystemExit("counts differ between the fast path and the literal algorithm")


if __name__ == "__main__":
    main()
