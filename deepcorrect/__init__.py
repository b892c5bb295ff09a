"""deepcorrect: rank the filters of a pretrained CNN by how much correcting them recovers under blur and noise,
correct them, and regenerate the tables and figures of Borkar & Karam's DeepCorrect paper.

Importing the package has no side effects. Three layers, each importing only the ones below it:

* the core — ``distortions``, ``data``, ``models``, ``ranking``, ``correction``, ``train``, ``evaluate``,
  ``adaptation``, ``restoration``, ``transfer`` / ``linear_svm``, ``store``, ``config``, ``runtime``, ``paper``
  (the published numbers, and nothing else);
* the shared artifacts — ``pipeline`` (splits, baseline, ranking, keys) and ``named_models`` (the paper's
  Finetune-k / Deepcorr-k models, trained and measured);
* the reproduction — ``sections``, one module per paper section, which notebook NN calls; then ``plots``,
  ``contents`` (the paper → page → function map), ``book`` and ``cli``.
"""

__version__ = "0.1.0"
