"""Deployment artifacts: ONNX models, TensorRT engines and Triton model repositories.

``export.pipeline.run_export`` is the library entry point behind ``designer export``;
``export.bench`` times a TensorRT engine (``designer bench``). TensorRT and ``tritonclient``
are optional: the modules that need them import them only when used.
"""
