import os

# Two cores, several test workers: keep each torch process to one thread.
os.environ.setdefault("OMP_NUM_THREADS", "1")
