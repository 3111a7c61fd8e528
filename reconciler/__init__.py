"""reconciler: a declarative, Terraform-style reconciler for AI digital-human video.

Specs in git say what each video should be; ``plan`` shows what would change,
``apply`` makes the vendor render exactly that, ``watch`` keeps it so. See README.md.
"""

__version__ = "0.1.0"

# The name this is installed by (``pip install``): every install hint is built from it.
DISTRIBUTION = "reconciler"
