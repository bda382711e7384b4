"""How good is a model? One evaluation harness and the metrics it is made of.

* :mod:`~songscape.evaluation.harness`: the protocol every figure goes through --
  ``songscape evaluate``, ``bench/probe.py`` and ``bench/train.py`` (embed with caches,
  linear probe and kNN on grouped folds, cross-fitted scoring of per-fold models);
* :mod:`~songscape.evaluation.probes`: linear probe, kNN precision@k, multi-label AUC;
* :mod:`~songscape.evaluation.intervals`: Wilson and bootstrap 95 % intervals;
* :mod:`~songscape.evaluation.baselines`: the MFCC-statistics baseline embedding;
* :mod:`~songscape.evaluation.plots`: confusion-matrix PNGs;
* :mod:`~songscape.evaluation.ranking`: top-k metrics of recommendations.
"""
