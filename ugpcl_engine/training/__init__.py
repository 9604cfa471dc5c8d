"""Training: events, cancel token, the UGPCL step, the trainer generator, checkpoints, jobs."""
