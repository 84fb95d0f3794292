"""Checkpoints, parameter snapshots and the reading side (see docs/checkpoints.md).

    store.py      Orbax CheckpointManager per batch of runs: resumable sweeps
    snapshots.py  parameters only, at chosen steps: dense trajectories
    identity.py   what differs between a saved and a new sweep configuration
    reader.py     load a run or a whole sweep from a workdir (grokjax.inspect)
"""
