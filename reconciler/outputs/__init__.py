"""Where published outputs live (docs/outputs.md), like httpx's transports: ``base`` (the
``OutputsStore`` interface every layer uses), one module per implementation (``local``: a
folder; ``bucket`` over ``s3client``, the one S3 client, with ``bucket_probe``, doctor's
checks of it), ``rules`` (what every store shares: what is lost, fetched again or adopted),
``render_cache`` (the cache's files in a folder) and ``move`` (``outputs migrate``'s verified
copies between any two places). ``open_outputs`` here is the one place that picks an
implementation from ``outputs:``.
"""

from __future__ import annotations

from reconciler.config import Config
from reconciler.outputs.base import OutputsStore
from reconciler.outputs.local import LocalOutputs


def open_outputs(config: Config, parallelism: int | None = None) -> OutputsStore:
    """The outputs store ``config`` names. Opening one makes no network call and
    imports no S3 library (that happens at a bucket's first call)."""
    if config.outputs_location is None:
        return LocalOutputs(config)
    from reconciler.outputs.bucket import BucketOutputs

    return BucketOutputs(config, parallelism=parallelism or config.parallelism)
