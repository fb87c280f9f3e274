"""The model export chain: trained weights shipped in packages -> ONNX (-> TensorRT, later) + manifests."""
