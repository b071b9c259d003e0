"""Qt-free long-running work as generators: training, evaluation, sweeps."""
