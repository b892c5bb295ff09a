"""The reproduction layer: one module per section of the paper, named after it, each the library half of one
book page. They compose the core (distortions, models, ranking, correction, training, evaluation, the store)
through the shared artifacts — the run context (:class:`deepcorrect.context.Run`), the splits, the baseline,
the filter priorities and the corrected models (:mod:`deepcorrect.corrected_models`, named by
:mod:`deepcorrect.model_names`); nothing in the core imports them.

=============================  ==================================================  ======================
module                         paper                                               page
=============================  ==================================================  ======================
``distortion_effects``         §1–3: Figures 1–2, Tables 1–2                       01 (and 04's AlexNet)
``correction_priority``        §4.1: Algorithm 1, Figures 4–6, Tables 5/9 counts   02 (and 04's AlexNet)
``cifar_analysis``             §5.1: Tables 3–6, Figure 9, Table 10's counts       03
``imagenet_analysis``          §5.2: Tables 7–12, Figures 10–12                    04
``generalization``             §5.3: Tables 13–15                                  05
``what_the_gain_consists_of``  beyond the paper: BN adaptation, TENT, the release  06
=============================  ==================================================  ======================
"""
