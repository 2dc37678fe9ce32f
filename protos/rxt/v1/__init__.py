"""`rxt.v1`: ReactiveService messages (`reactive_pb2`) and stubs (`reactive_pb2_grpc`)."""
