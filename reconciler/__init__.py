"""reconciler: a declarative, Terraform-style reconciler for AI digital-human video.

Specs in git say what each video should be; ``plan`` shows what would change,
``apply`` makes the vendor render exactly that, ``watch`` keeps it so. See README.md.
"""

__version__ = "0.1.0"
# The name to `pip install` (and the one --version reads): "reconciler" on PyPI is an
# unrelated project. The import package and the command are `reconciler`.
DISTRIBUTION = "avatar-video-reconciler"
