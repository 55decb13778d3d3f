"""pytest settings for the doctests of the package's modules.

The project's pytest collects the Examples of every module here
(``--doctest-modules``). ``sknn_scratch.onnx`` needs the optional ``onnx`` extra
(skl2onnx, and onnxruntime for its Example); without it, importing that module
raises ImportError, so it is left out of the collection rather than failing it.
"""

import importlib.util

collect_ignore = []
if not all(importlib.util.find_spec(name) for name in ("skl2onnx", "onnxruntime")):
    collect_ignore.append("onnx.py")
