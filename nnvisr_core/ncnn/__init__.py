"""ncnn models (.param + .bin) converted to ONNX: reader (file formats), layers (ncnn layer -> ONNX
nodes), convert (the whole graph, with the padding and cropping a model's own program applies)."""

from .convert import Program, build_onnx, convert_files, final_blob, input_blob
from .reader import ConvertError, Layer, ModelBin, parse_param

__all__ = ["ConvertError", "Layer", "ModelBin", "Program", "build_onnx", "convert_files", "final_blob",
           "input_blob", "parse_param"]
