"""pgexp's ``hydra/launcher=batched``: the jobs of a sweep that can share one computation run as
one batch in one process (see :mod:`.batched_launcher`)."""
