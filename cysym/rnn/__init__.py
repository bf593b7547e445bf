"""MXNet 1.x's symbolic RNN API (`mxnet.rnn`): cells that build unrolled graphs, and a
bucketing sentence iterator."""
from .rnn_cell import (RNNParams, BaseRNNCell, RNNCell, LSTMCell, GRUCell, FusedRNNCell,  # noqa: F401
                       SequentialRNNCell, DropoutCell, ModifierCell, ZoneoutCell, ResidualCell,
                       BidirectionalCell, zeros)
from .io import BucketSentenceIter, encode_sentences  # noqa: F401

__all__ = ["RNNParams", "BaseRNNCell", "RNNCell", "LSTMCell", "GRUCell", "FusedRNNCell",
           "SequentialRNNCell", "DropoutCell", "ModifierCell", "ZoneoutCell", "ResidualCell",
           "BidirectionalCell", "zeros", "BucketSentenceIter", "encode_sentences"]
