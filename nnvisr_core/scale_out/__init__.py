"""nnvisr-run: a video split at its scene cuts, chunks filtered in parallel on Ray, joined into one output.

Windows of the nnvisr filter never cross a scene cut, so chunks made of whole scenes give exactly the frames of
one ffmpeg run. Modules: graph (the user's filter chain, cut into scan and chunk chains), scan (cuts and frame
times), plan (scenes grouped into chunks), workdir (resume state), chunk (one chunk's ffmpeg), concat (the join),
progress (one bar for the job), cli (the command).
"""
