"""deepcorrect: rank the filters of a pretrained CNN by how much correcting them recovers under blur and noise,
correct them, and regenerate the tables and figures of Borkar & Karam's DeepCorrect paper.

Importing the package has no side effects; submodules: ``config``, ``distortions``, ``data``, ``models``,
``train``, ``evaluate``, ``store``, ``experiments``, ``plots``, ``analysis``, ``paper``, ``book``, ``cli``.
"""

__version__ = "0.1.0"
