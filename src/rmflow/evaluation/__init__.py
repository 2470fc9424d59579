"""Evaluation: best-of-N and weighted-vote accuracy curves from reward files (docs/formats.md).

Modules: :mod:`answers` (answer normalisation and codes), :mod:`scores` (reward list -> CoT score by
strategy), :mod:`subsample` (md5-seeded legacy subsampling), :mod:`inputs` (loading and the
(q_id, cot_id) join), :mod:`vote` (the vectorized evaluator), :mod:`report` (CSV tables),
:mod:`evaluate` (the ``rmflow evaluate`` stage) and :mod:`reference` (a plain per-question loop
written straight from the specification, used to check the vectorized evaluator).
"""
