"""Where each table and figure of the paper is regenerated: paper item → book page → library function.

One list, rendered on the book's front page (``book/_map.md``, written by the book build) and in README (a
test checks that README's copy matches), so a newcomer can go from "Table 6" to the code that computes it.
"""

from __future__ import annotations

#: (paper item, notebook stem, the heading it appears under, the library functions that compute it)
PAPER_MAP: tuple[tuple[str, str, str, str], ...] = (
    ("Figure 1", "01_distortions_baselines", "Figure 1", "experiments.example_predictions, plots.figure_1"),
    ("Tables 1–2 (CIFAR)", "01_distortions_baselines", "Tables 1–2",
     "experiments.baseline_tables → evaluate.accuracy_table; experiments.compare_with_paper"),
    ("Tables 1–2 (ImageNet)", "04_imagenet_alexnet", "The baseline under the ImageNet levels",
     "experiments.baseline_tables, experiments.compare_with_paper"),
    ("Figure 1 (AlexNet, as in the paper)", "04_imagenet_alexnet", "Figure 1 on AlexNet",
     "experiments.example_predictions, plots.figure_1"),
    ("Figure 2", "01_distortions_baselines", "Figure 2", "experiments.tsne_embeddings → analysis.tsne.embed"),
    ("Figure 2 (AlexNet, as in the paper)", "04_imagenet_alexnet", "Figure 2 on AlexNet",
     "experiments.tsne_embeddings, plots.figure_2"),
    ("Algorithm 1, Eq. 1", "02_ranking", "Algorithm 1",
     "experiments.ranking → ranking.rank_filters (literal: ranking.literal_counts)"),
    ("Figure 4", "02_ranking", "Figure 4",
     "experiments.ideal_correction(first_layer_fractions) → ranking.ideal_curve"),
    ("Figure 5", "02_ranking", "Figure 5", "experiments.ideal_correction(single_layer_fractions)"),
    ("Figures 4–5 (AlexNet)", "04_imagenet_alexnet", "Figures 4 and 5 on AlexNet",
     "experiments.ideal_correction(first_layer_fractions / single_layer_fractions)"),
    ("Figure 6", "02_ranking", "Figure 6", "experiments.first_layer_weights, plots.figure_6"),
    ("Tables 5 and 9 (# corrected)", "02_ranking", "Local vs global selection",
     "experiments.selection_counts → ranking.select_local / select_global"),
    ("Figures 3, 7, 8 (networks, unit)", "03_deepcorrect_cifar", "The correction unit",
     "correction.deepcorrect_model, correction.CorrectionUnit (counted, not drawn)"),
    ("Tables 3–4", "03_deepcorrect_cifar", "Tables 3 and 4",
     "comparisons.evaluate_models → comparisons.corrected_model → train.fit; comparisons.compare_table"),
    ("Table 5", "03_deepcorrect_cifar", "Table 5", "comparisons.local_vs_global, comparisons.ttest_local_vs_global"),
    ("Table 6, Figure 9", "03_deepcorrect_cifar", "Figure 9 and Table 6",
     "comparisons.figure9_names, comparisons.table_6, comparisons.ttest_ranked_vs_random"),
    ("Table 10 (parameters)", "03_deepcorrect_cifar", "The correction unit",
     "comparisons.parameter_counts, comparisons.unit_counts"),
    ("Beyond the paper: BN-adapt, TENT, the release's training", "06_what_the_gain_consists_of",
     "The contrasts that matter", "gain.seeded_tables, gain.contrasts, adaptation.adapt_batchnorm, adaptation.tent_table"),
    ("Tables 7–8", "04_imagenet_alexnet", "Tables 7 and 8",
     "comparisons.evaluate_models, imagenet.restoration_rows → restoration.restore_batch, imagenet.compare_alexnet"),
    ("Table 9", "04_imagenet_alexnet", "Table 9", "comparisons.local_vs_global"),
    ("Tables 10–12", "04_imagenet_alexnet", "Tables 10–12", "imagenet.variant_costs, comparisons.evaluate_models"),
    ("Figure 10", "04_imagenet_alexnet", "Figure 10", "experiments.tsne_embeddings of Deepcorr-5"),
    ("Figure 11", "04_imagenet_alexnet", "Figure 11", "imagenet.per_class_difference, imagenet.figure11_counts"),
    ("Figure 12", "04_imagenet_alexnet", "Figure 12", "plots.validation_curves of the training records"),
    ("Table 13", "05_transfer", "Table 13", "transfer.transfer_accuracy(kind='clean') → transfer.svm_accuracy"),
    ("Tables 14–15", "05_transfer", "Tables 14 and 15", "transfer.transfer_accuracy, transfer.transfer_table"),
)


def map_markdown(links: bool = True) -> str:
    """The map as a Markdown table; ``links`` makes the pages MyST cross-references (the book), else plain
    notebook names (README)."""
    lines = ["| paper | page | section | computed by (`deepcorrect.`…) |", "| --- | --- | --- | --- |"]
    for item, page, section, functions in PAPER_MAP:
        where = f"{{doc}}`{page}`" if links else f"`notebooks/{page}.py`"
        lines.append(f"| {item} | {where} | {section} | `{functions}` |")
    return "\n".join(lines) + "\n"
