"""Training designed networks: the library behind ``designer train`` / ``designer eval``.

``recipe`` (the knobs, :class:`~train.recipe.TrainConfig`), ``datasets`` (formats on disk),
``loader`` (per-process batches) with ``crops`` (crop boxes), ``images`` (image files in the
worker processes), ``jpeg`` (GPU decoding) and ``prefetch`` (background threads), ``augment``
(GPU augmentation and mixing), ``optim`` (SGD and schedule), ``engine`` (model preparation, one
training step), ``distributed`` (torchrun), ``rng``, ``rundir`` (run-directory files),
``evaluate`` and ``loop`` (:func:`~train.loop.train`).
"""
