"""Model files and surgery (torch, never Qt). Submodules import torch only where they need it."""
