"""Training, pruning and fine-tuning SDNNs on CPU (torch; no Qt).

- :mod:`~engine.training.sources`, :mod:`~engine.training.dataset_builder`, :mod:`~engine.training.synthetic_noise`:
  noisy/clean pairs from folders of speech and noise (N-DNS layout), validation disjoint by speaker and recording.
- :mod:`~engine.training.dataset_layout`: where a dataset's splits are, what they hold (no audio read, no torch).
- :mod:`~engine.training.dataset`: reads a split (ours or N-DNS's) into memory and draws training batches.
- :mod:`~engine.training.graph`: the network as a trainable torch module, equal to lava-dl SLAYER's.
- :mod:`~engine.training.loss`, :mod:`~engine.training.regularizers`, :mod:`~engine.training.pruning`,
  :mod:`~engine.training.schedule`: the N-DNS objective, activity regularisation (L_p, Hoyer), Gradual Magnitude
  Pruning and its cubic schedule.
- :mod:`~engine.training.validation`: fast exact validation (SI-SNR, SynOps, M-Ops/s).
- :mod:`~engine.training.config`, :mod:`~engine.training.trainer`, :mod:`~engine.training.checkpoint`,
  :mod:`~engine.training.events`: one resumable, cancellable run and what it reports.
- :mod:`~engine.training.recipes`: prune / fine-tune runs built from a few choices (the CLI's and the app's).
- :mod:`~engine.training.job`: a run in its own process with a progress queue — the API for the GUI panel.
"""

import os

# Training shares a 2-core machine with the audio engine, the GUI and other work. OpenMP threads that
# spin while waiting then steal the cores they wait for: measured here with other jobs running, a training
# step took 2.5-4.6 s with 2 spinning threads and 0.8-1.9 s with passive waiting. It only takes effect if
# set before torch is first imported (a training job's own process, the CLI); an explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
