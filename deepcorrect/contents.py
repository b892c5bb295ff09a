"""Where each table and figure of the paper is regenerated: paper item → book page → library function.

One list, rendered on the book's front page (``book/_map.md``, written by the book build) and in README (a
test checks that README's copy matches), so a newcomer can go from "Table 6" to the code that computes it.
"""

from __future__ import annotations

import re

#: (paper item, notebook stem, the heading of its section — exactly as the page writes it, the link's anchor is
#: its slug —, the library functions that compute it)
PAPER_MAP: tuple[tuple[str, str, str, str], ...] = (
    ("Figure 1", "01_distortions_baselines", "Figure 1 — predictions as distortion grows",
     "sections.distortion_effects.example_predictions, plots.figure_1"),
    ("Tables 1–2 (CIFAR)", "01_distortions_baselines", "Tables 1–2 — top-1 per distortion level",
     "sections.distortion_effects.baseline_tables → evaluate.accuracy_table; "
     "sections.distortion_effects.compare_with_paper"),
    ("Tables 1–2 (ImageNet)", "06_imagenet_alexnet",
     "Tables 1–2 on AlexNet — the baseline under the ImageNet levels",
     "sections.distortion_effects.baseline_tables, sections.distortion_effects.compare_with_paper"),
    ("Figure 1 (AlexNet, as in the paper)", "06_imagenet_alexnet",
     "Figure 1 on AlexNet — predictions as distortion grows",
     "sections.distortion_effects.example_predictions, plots.figure_1"),
    ("Figure 2", "01_distortions_baselines", "Figure 2 — t-SNE of penultimate features",
     "sections.distortion_effects.tsne_embeddings → analysis.tsne.embed"),
    ("Figure 2 (AlexNet, as in the paper)", "06_imagenet_alexnet",
     "Figure 2 on AlexNet — t-SNE of the baseline's fc7 features",
     "sections.distortion_effects.tsne_embeddings, plots.figure_2"),
    ("Algorithm 1, Eq. 1", "02_ranking", "Algorithm 1 — computed exactly and fast",
     "priorities.filter_priorities → ranking.rank_filters (literal: ranking.literal_counts)"),
    ("Figure 4", "02_ranking", "Figure 4 — correcting a share β₁ of the first layer",
     "sections.correction_priority.ideal_correction(first_layer_fractions) → ranking.ideal_curve"),
    ("Figure 5", "02_ranking", "Figure 5 — correcting β = 50 % of one layer at a time",
     "sections.correction_priority.ideal_correction(single_layer_fractions)"),
    ("Figures 4–5 (AlexNet)", "06_imagenet_alexnet", "Figures 4 and 5 on AlexNet — ideal correction",
     "sections.correction_priority.ideal_correction(first_layer_fractions / single_layer_fractions)"),
    ("Figure 6", "02_ranking", "Figure 6 — which first-layer filters are most susceptible",
     "sections.correction_priority.first_layer_weights, plots.figure_6"),
    ("Tables 5 and 9 (# corrected)", "02_ranking",
     "Tables 5 and 9 — filters corrected per layer, local vs global",
     "sections.correction_priority.selection_counts → ranking.select_local / select_global"),
    ("Figures 3a, 7, 8a (networks, unit)", "03_deepcorrect_cifar",
     "Figures 3, 7 and 8 — the networks and the unit, drawn from the built modules",
     "diagrams.network_figure, diagrams.unit_figure of corrected_models.build"),
    ("Figures 3b, 8b (AlexNet, Deepcorr-5)", "06_imagenet_alexnet",
     "Figures 3b and 8b — AlexNet and Deepcorr-5, drawn from the built modules",
     "diagrams.network_figure of corrected_models.build"),
    ("Tables 3–4", "03_deepcorrect_cifar", "Tables 3 and 4 — every model, per distortion level",
     "corrected_models.evaluate_models → corrected_models.corrected_model → train.fit; "
     "sections.cifar_analysis.compare_table"),
    ("Table 5", "03_deepcorrect_cifar", "Table 5 — local vs global ranking for Deepcorr-6c",
     "sections.cifar_analysis.local_vs_global, sections.cifar_analysis.ttest_local_vs_global"),
    ("Figure 9, Table 6", "03_deepcorrect_cifar",
     "Figure 9 and Table 6 — ranked vs random vs least-susceptible filters",
     "sections.cifar_analysis.figure9_names, sections.cifar_analysis.table_6, "
     "sections.cifar_analysis.ttest_ranked_vs_random"),
    ("Table 10 (parameters)", "03_deepcorrect_cifar",
     "Table 10 and the parameter counts — the correction unit, counted exactly",
     "sections.cifar_analysis.parameter_counts, sections.cifar_analysis.unit_counts"),
    ("Beyond the paper: BN-adapt, TENT, the release's training", "04_what_the_gain_consists_of",
     "The contrasts that matter, with paired tests",
     "sections.what_the_gain_consists_of.seeded_tables, sections.what_the_gain_consists_of.contrasts, "
     "adaptation.adapt_batchnorm, adaptation.tent_table"),
    ("Beyond the paper: the 15-corruption benchmark, BN adaptation, TENT", "05_beyond_blur_and_noise",
     "Mean error over the 15, beside the published row",
     "corruptions.corrupt, sections.beyond_blur_and_noise.error_grid, "
     "sections.beyond_blur_and_noise.adaptation_errors"),
    ("Tables 7–8", "06_imagenet_alexnet", "Tables 7 and 8 — every model and the restoration baselines",
     "corrected_models.evaluate_models, sections.imagenet_analysis.restoration_rows → "
     "restoration.restore_batch, sections.imagenet_analysis.compare_alexnet"),
    ("Table 9", "06_imagenet_alexnet", "Table 9 — local vs global ranking for Deepcorr-5",
     "sections.cifar_analysis.local_vs_global"),
    ("Tables 10–12", "06_imagenet_alexnet", "Tables 10–12 — correction-unit variants",
     "sections.imagenet_analysis.variant_costs, corrected_models.evaluate_models"),
    ("Figure 10", "06_imagenet_alexnet", "Figure 10 — t-SNE of Deepcorr-5 features",
     "sections.distortion_effects.tsne_embeddings of Deepcorr-5"),
    ("Figure 11", "06_imagenet_alexnet",
     "Figure 11 — per-class accuracy difference, Deepcorr-5 − Finetune-8",
     "sections.imagenet_analysis.per_class_difference, sections.imagenet_analysis.figure11_counts"),
    ("Figure 12", "06_imagenet_alexnet", "Figure 12 — validation accuracy against training iterations",
     "plots.validation_curves of the training records"),
    ("Table 13", "07_transfer", "Table 13 — clean images, baseline features",
     "sections.generalization.transfer_accuracy(kind='clean') → transfer.svm_accuracy"),
    ("Tables 14–15", "07_transfer", "Tables 14 and 15 — distorted images",
     "sections.generalization.transfer_accuracy, sections.generalization.transfer_table"),
)


def paper_order(item: str) -> tuple:
    """Sort key of a map row in the paper's order: Figures 1, 2, 3, … then Tables 1, 2, … then the rest; the
    CIFAR row before the AlexNet one of the same item."""
    kind = next((i for i, word in enumerate(("Figure", "Table", "Algorithm")) if item.startswith(word)), 3)
    number = re.search(r"\d+", item)
    return kind, int(number.group()) if number else 0, "AlexNet" in item or "ImageNet" in item


#: What a heading's slug drops (MyST's default, after GitHub's): anything but word characters, CJK, "-" and " ".
_NOT_IN_SLUG = re.compile(r"[^\w\u4e00-\u9fff\- ]")


def slug(heading: str) -> str:
    """The anchor MyST gives a heading (``myst_heading_anchors``): lower case, spaces to "-", punctuation
    dropped — "Figure 1 — predictions" → "figure-1--predictions". The first heading of a page with a given
    text gets it plain (a later twin "-1"), so each map row names a heading its page writes once."""
    return _NOT_IN_SLUG.sub("", heading.lower().replace(" ", "-"))


def map_markdown(links: bool = True) -> str:
    """The map as a Markdown table; ``links`` makes the pages MyST cross-references and each section a link to
    its heading's anchor (the book), else plain notebook names and headings (README)."""
    lines = ["| paper | page | section | computed by (`deepcorrect.`…) |", "| --- | --- | --- | --- |"]
    for item, page, section, functions in sorted(PAPER_MAP, key=lambda row: paper_order(row[0])):
        where = f"{{doc}}`{page}`" if links else f"`notebooks/{page}.py`"
        heading = f"[{section}]({page}.ipynb#{slug(section)})" if links else section
        lines.append(f"| {item} | {where} | {heading} | `{functions}` |")
    return "\n".join(lines) + "\n"
