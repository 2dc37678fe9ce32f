"""deploy/serve_config.yaml is a valid Serve config whose args build a valid ServiceConfig."""

from pathlib import Path

import yaml
from ray.serve.schema import ServeDeploySchema

from orchestration.config import ServiceConfig

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "serve_config.yaml"


def test_cluster_config_is_valid_and_matches_the_app():
    schema = ServeDeploySchema(**yaml.safe_load(CONFIG.read_text()))
    assert schema.proxy_location == "Disabled"  # the ingress replicas serve gRPC themselves
    (app,) = schema.applications
    assert app.import_path == "orchestration.app:app_builder"
    config = ServiceConfig(**app.args)
    assert config.database_url.startswith("postgresql")
    assert config.port == 50051
    assert config.decoder.num_gpus == 1 and config.decoder.replicas == 4
    assert config.decoder.max_ongoing_requests >= config.max_batch_size
    assert {a.name for a in config.agents} == {"assistant", "creative"}
    assert config.agents[1].setup[0].query == "Who are you?"
