"""Warnings and errors specific to fastbp."""


class GradientWarning(UserWarning):
    """A layer's gradient vanished or exploded during training.

    Issued at most once per fit; the message names the layer and the
    remedies fastbp offers.
    """
