"""Choice of the kernel backend.

The CPU kernels are imported here; a CUDA backend, mirroring
``fastbp.kernels.network`` name for name, is imported only when asked for, so
that ``import fastbp`` never touches ``numba.cuda``.
"""

DEVICES = ("cpu",)


def network_kernels(device="cpu"):
    """The module holding ``train_epoch``, ``loss_and_gradient`` and ``predict``.

    Parameters
    ----------
    device : {"cpu"}
    """
    if device == "cpu":
        from ..kernels import network

        return network
    raise ValueError(f"device must be one of {DEVICES}, got {device!r}.")
