"""The research harness beside the engine: benchmarks, baselines, simulations, loop references.

``baselines`` (slice selection, ITK interpolation), ``mc_dropout`` (the calibration baseline),
``simulation`` (guided slice selection with the reference labels as the annotator) and
``contrast_reference`` (plain-loop versions of the contrastive losses); ``runner`` runs the
benchmarks (``ugpcl-studio benchmark NAME``). It may import the engine; nothing in the engine or
in the app's product code imports it (an import-linter contract), only the app's GUI benchmarks
(``app.benchmarks``) and the engine CLI, which loads the runner by module name.
"""
