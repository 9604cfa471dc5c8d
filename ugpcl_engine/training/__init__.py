"""Training: events, cancel token, the UGPCL step, the trainer generator, jobs."""
