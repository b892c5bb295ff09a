"""deepcorrect: rank the filters of a pretrained CNN by how much correcting them recovers under blur and noise,
correct them, and regenerate the tables and figures of Borkar & Karam's DeepCorrect paper.

Importing the package has no side effects. Three layers, each importing only the ones below it:

* the core — ``distortions``, ``data``, ``models``, ``ranking``, ``correction``, ``train``, ``evaluate``,
  ``adaptation``, ``restoration``, ``transfer`` / ``linear_svm``, ``keys`` (how every artifact key is built),
  ``store``, ``config``, ``runtime``, ``paper`` (the published numbers, and nothing else);
* the shared artifacts — ``context`` (the run: profile, store, device), ``splits``, ``baseline``,
  ``priorities`` (the cached filter ranking), ``model_names`` (the paper's model-name grammar) and
  ``corrected_models`` (those models trained and measured), ``report`` and ``metrics`` (what every page prints
  and saves);
* the reproduction — ``sections``, one module per paper section, which notebook NN calls; then ``plots``,
  ``contents`` (the paper → page → function map), ``book`` and ``cli``.
"""

__version__ = "0.1.0"
