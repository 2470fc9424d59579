"""Analyses beyond the paper's tables (``rmflow analyze``), on the evaluation's inputs and voting.

Modules: :mod:`metrics` (AUROC with ties, calibration, first-error steps, unbiased pass@k),
:mod:`uncertainty` (run-to-run spread of the macro average, bootstrap CIs over questions, paired
tests), :mod:`inputs` (one category's test set and reward sets under every aggregation, step labels),
:mod:`selection` (every selection rule and aggregation in one pass, domain groups), :mod:`verifier`,
:mod:`length`, :mod:`replicas`, :mod:`tables` (tidy CSVs; their rows read by column name through
:class:`tables.Columns`), :mod:`figures` (one function per figure), :mod:`render` (worker processes, PDF
and PNG writing, fixed layout) and :mod:`cli` (the stage).
"""
