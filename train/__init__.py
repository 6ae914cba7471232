"""Training designed networks: ``designer train`` / ``designer eval`` and their library API.

``recipe`` (the knobs, :class:`~train.recipe.TrainConfig`), ``datasets`` (formats on disk),
``loader`` (per-process batches), ``augment`` (GPU augmentation and mixing), ``optim``
(SGD and schedule), ``engine`` (model preparation, one training step), ``distributed``
(torchrun), ``rng``, ``rundir`` (run-directory files), ``evaluate``, ``loop``
(:func:`~train.loop.train`) and ``cli``.
"""
