"""Evaluation: best-of-N and weighted-vote accuracy curves from reward files (docs/formats.md).

Modules: :mod:`answers` (answer normalisation and codes), :mod:`scores` (reward list -> CoT score by
strategy), :mod:`subsample` (md5-seeded legacy subsampling, drawn for all runs and questions at once
by :mod:`md5_batch` and :mod:`legacy_shuffle`), :mod:`inputs` (loading, in bulk through
:mod:`rmflow.fast_records`, and the (q_id, cot_id) join), :mod:`vote` (the vectorized evaluator),
:mod:`report` (CSV tables), :mod:`memory` (the memory estimate), :mod:`evaluate` (the
``rmflow evaluate`` stage) and :mod:`reference` (a plain per-question loop written straight from the
specification, used to check the vectorized evaluator).
"""
