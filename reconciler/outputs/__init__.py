"""Where published outputs live (docs/outputs.md): ``base`` (the ``OutputsStore`` interface every
layer uses, and ``open_outputs``, the one place that picks an implementation from ``outputs:``),
one module per implementation (a local folder; ``bucket`` over ``s3client``, the one S3 client),
``rules`` (what is lost, fetched again or adopted), ``render_cache`` (the cache's files in a
folder) and ``move`` (``outputs migrate``'s verified copies between any two places)."""
