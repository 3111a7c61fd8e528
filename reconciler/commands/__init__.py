"""One module per CLI command: parse nothing, call the library, render the result.

Each module exposes ``run(project, **options) -> int`` (the exit code). ``cli.py`` owns
argument parsing; these own turning library results into output.
"""
