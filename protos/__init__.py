"""The public gRPC API (`rxt/v1/reactive.proto`) and its generated Python modules.

Regenerate with `python -m protos.build`; import as `from protos.rxt.v1 import reactive_pb2`.
"""
