"""SmoothNet: the temporal smoothing network (our PyTorch implementation), its loader and training."""
