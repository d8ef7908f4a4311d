"""Faults and checks of GPU placement: the serving pods must run on GPU nodes only.

A GPU pod that may land on a node without a GPU shows only when the GPU nodes are full:
while a GPU node is free the scheduler prefers it, so the mistake stays hidden until a
drain, a lost node or a shortage leaves no GPU free. These actions create that moment and
these probes say where the pods went. On the local target the GPUs are a scheduling
resource only (nodes offer ``nvidia.com/gpu``, the model servers run on the CPU), so what
is verified there is placement, not GPU execution.
"""
