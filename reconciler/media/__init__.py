"""Media building blocks (docs/parts.md): decode-verify a video, cut its poster, join
parts into one video, and time captions from the script.

A package of its own, low in the layers (it imports only ``reconciler.errors`` and
``reconciler.util``), so that apply, the gallery and the simulator's tests can share one
implementation of each. PyAV (FFmpeg's libraries: 60-190 ms to import here, and large
shared libraries to load) is imported only inside the functions that touch media:
``validate`` and ``plan`` never load it (``tests/media/test_imports.py``).
``split_sentences`` (``split: sentences``) lives in ``script``, beside the tag reading
it shares with the captions.
"""
