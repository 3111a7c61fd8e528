"""`reconciler gallery`'s review page: ``cards`` (what each video shows, from the state),
``script`` (scripts as safe HTML, TTS tags visible), ``posters`` (frames cut by ffmpeg),
``page`` (the one self-contained HTML file). Imported only by that command."""
