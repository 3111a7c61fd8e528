"""`reconciler gallery`'s review page: ``cards`` (what each video shows, from the state),
``script`` (scripts as safe HTML, TTS tags visible), ``posters`` (the published posters, else frames cut by ``media.poster``),
``page`` (the one self-contained HTML file). Imported only by that command."""
