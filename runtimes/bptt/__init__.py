"""Training through time (``method="bptt"``): the spiking program unrolled over T steps."""
