"""Per-class memory bank of region-mean embeddings (method §3, step 5), updated on the device.

Differences from the authors' code (method §4), on purpose:

- every class, background (0) included, has its own real queue of ``size`` entries;
- slots never written are marked by ``filled`` and masked out of the loss, instead of being
  all-zero rows labelled background;
- there is no second per-pixel queue;
- the update is vectorised pointer arithmetic on the device (no per-class or per-image Python loop,
  no ``.item()``, no CPU-resident queue), so it never synchronises with the host.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class ClassMemoryBank(nn.Module):
    """A ring buffer of ``size`` L2-normalised embeddings per class.

    Buffers (saved in ``state_dict`` so warm starts keep the bank):
        queue: (C, M, D) float32 entries; rows of unwritten slots are zero and must be ignored.
        filled: (C, M) bool, ``True`` where a slot holds a real entry.
        ptr: (C,) int64, the next slot to write for each class.

    ``enqueue`` rebinds the buffers to new tensors instead of writing in place, so a loss computed
    from the previous ``queue`` can still be back-propagated after the update (the trainer computes
    the contrastive loss against the bank first, then enqueues this step's detached region means,
    then calls ``backward``).

    Args:
        num_classes: C, including background.
        dim: D, the embedding size.
        size: M, entries per class (500 in the paper).

    Raises:
        ValueError: if any argument is < 1.
    """

    queue: Tensor
    filled: Tensor
    ptr: Tensor

    def __init__(self, num_classes: int, dim: int, size: int = 500) -> None:
        super().__init__()
        if min(num_classes, dim, size) < 1:
            raise ValueError(
                f"num_classes, dim and size must be >= 1, got {num_classes}, {dim}, {size}"
            )
        self.num_classes = num_classes
        self.dim = dim
        self.size = size
        self.register_buffer("queue", torch.zeros(num_classes, size, dim))
        self.register_buffer("filled", torch.zeros(num_classes, size, dtype=torch.bool))
        self.register_buffer("ptr", torch.zeros(num_classes, dtype=torch.int64))

    def entries(self) -> tuple[Tensor, Tensor, Tensor]:
        """The bank flattened for a loss.

        Returns:
            ``(keys, classes, filled)``: (C·M, D) entries, (C·M,) int64 class of each entry,
            (C·M,) bool mask of real entries.
        """
        classes = torch.arange(self.num_classes, device=self.queue.device)
        classes = classes.unsqueeze(1).expand(self.num_classes, self.size)  # no host sync
        return (
            self.queue.reshape(-1, self.dim),
            classes.reshape(-1),
            self.filled.reshape(-1),
        )

    @torch.no_grad()
    def enqueue(self, means: Tensor, classes: Tensor, valid: Tensor) -> None:
        """Append rows to their class queues, in row order, overwriting the oldest entries.

        Row ``i`` with ``valid[i]`` is the ``r``-th valid row of its class ``c`` in this call; it is
        written at slot ``(ptr[c] + r) mod M``, and ``ptr[c]`` then advances by the number of valid
        rows of ``c``. When more than M rows of one class arrive, only the last M are kept (the same
        result as writing them one by one). Rows are detached and cast to the bank's dtype.

        Args:
            means: (N, D) L2-normalised embeddings (region means).
            classes: (N,) int64 class of each row, in ``[0, C)`` where valid.
            valid: (N,) bool, rows to write.

        Raises:
            ValueError: on mismatched shapes.
        """
        n = means.shape[0]
        if means.shape != (n, self.dim) or classes.shape != (n,) or valid.shape != (n,):
            raise ValueError(
                f"means (N,{self.dim}), classes (N,), valid (N,) expected, got "
                f"{tuple(means.shape)}, {tuple(classes.shape)}, {tuple(valid.shape)}"
            )
        cm = self.num_classes * self.size
        onehot = classes.unsqueeze(1) == torch.arange(self.num_classes, device=classes.device)
        onehot = (onehot & valid.unsqueeze(1)).to(torch.int64)  # (N, C)
        counts = onehot.sum(dim=0)  # (C,)
        safe_cls = torch.where(valid, classes, torch.zeros_like(classes))
        rank = ((onehot.cumsum(dim=0) - 1) * onehot).sum(dim=1)  # rank of the row in its class
        keep = valid & (rank >= counts[safe_cls] - self.size)
        slot = (self.ptr[safe_cls] + rank) % self.size
        # rows not kept go to a scratch row at index C·M that is dropped afterwards
        target = torch.where(keep, safe_cls * self.size + slot, torch.full_like(slot, cm))
        queue = torch.cat([self.queue.reshape(cm, self.dim), self.queue.new_zeros(1, self.dim)])
        queue.index_put_((target,), means.detach().to(queue.dtype))
        filled = torch.cat([self.filled.reshape(cm), self.filled.new_zeros(1)])
        filled.index_put_((target,), torch.ones_like(target, dtype=torch.bool))
        self.queue = queue[:cm].reshape(self.num_classes, self.size, self.dim)
        self.filled = filled[:cm].reshape(self.num_classes, self.size)
        self.ptr = (self.ptr + counts) % self.size

    def reset(self) -> None:
        """Empty the bank (all slots unfilled, pointers at 0)."""
        self.queue = torch.zeros_like(self.queue)
        self.filled = torch.zeros_like(self.filled)
        self.ptr = torch.zeros_like(self.ptr)

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, dim={self.dim}, size={self.size}"
