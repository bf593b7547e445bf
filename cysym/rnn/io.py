"""MXNet 1.x's `mxnet.rnn.io`: sentences to integer codes, and batches bucketed by length."""
import bisect
import logging
import random

import numpy as np

from .. import ndarray
from ..io import DataBatch, DataDesc, DataIter

_LOG = logging.getLogger(__name__)

__all__ = ["encode_sentences", "BucketSentenceIter"]


def encode_sentences(sentences, vocab=None, invalid_label=-1, invalid_key="\n", start_label=0,
                     unknown_token=None):
    """(coded sentences, vocab): each word replaced by its integer code.

    With vocab=None a new vocabulary is built, codes counting from `start_label` and skipping
    `invalid_label` (which `invalid_key` maps to).  With a given vocab, unknown words are an
    error unless `unknown_token` names the word they are coded as (added if missing).
    """
    idx = start_label
    if vocab is None:
        vocab = {invalid_key: invalid_label}
        new_vocab = True
    else:
        new_vocab = False
    coded_sentences = []
    for sentence in sentences:
        coded = []
        for word in sentence:
            if word not in vocab:
                if not (new_vocab or unknown_token):
                    raise KeyError(f"encode_sentences: unknown token {word!r} and no unknown_token")
                if unknown_token:
                    word = unknown_token
                if word not in vocab:
                    if idx == invalid_label:
                        idx += 1
                    vocab[word] = idx
                    idx += 1
            coded.append(vocab[word])
        coded_sentences.append(coded)
    return coded_sentences, vocab


class BucketSentenceIter(DataIter):
    """Batches of sentences padded to the smallest bucket length that holds them.

    The label of each step is the next token (the last step's label is `invalid_label`), as a
    language model needs.  Each batch's `bucket_key` is its length; `default_bucket_key` is
    the largest bucket.  Sentences longer than every bucket are discarded (with a warning).

    Parameters
    ----------
    sentences : list of list of int
    batch_size : int
    buckets : list of int, optional
        Default: every length with at least batch_size sentences.
    invalid_label : int, default -1
        Padding value.
    data_name, label_name : str
    dtype : str, default 'float32'
    layout : 'NT' (batch major, default) or 'TN' (time major)
    """

    def __init__(self, sentences, batch_size, buckets=None, invalid_label=-1, data_name="data",
                 label_name="softmax_label", dtype="float32", layout="NT"):
        super().__init__(batch_size)
        if not buckets:
            counts = np.bincount([len(s) for s in sentences])
            buckets = [length for length, count in enumerate(counts) if count >= batch_size]
        buckets = sorted(buckets)
        if not buckets:
            raise ValueError(f"BucketSentenceIter: no bucket; no sentence length occurs "
                             f"batch_size={batch_size} times, give buckets=[...]")
        self.major_axis = layout.find("N")
        if self.major_axis not in (0, 1) or sorted(layout) != ["N", "T"]:
            raise ValueError(f"Invalid layout {layout}: Must by NT (batch major) or TN (time major)")

        discarded = 0
        data = [[] for _ in buckets]
        for sentence in sentences:
            bucket = bisect.bisect_left(buckets, len(sentence))
            if bucket == len(buckets):
                discarded += 1
                continue
            padded = np.full((buckets[bucket],), invalid_label, dtype=dtype)
            padded[:len(sentence)] = sentence
            data[bucket].append(padded)
        self.data = [np.asarray(d, dtype=dtype).reshape(len(d), length)
                     for d, length in zip(data, buckets)]
        if discarded:
            _LOG.warning("discarded %d sentences longer than the largest bucket.", discarded)

        self.batch_size = batch_size
        self.buckets = buckets
        self.data_name = data_name
        self.label_name = label_name
        self.dtype = dtype
        self.invalid_label = invalid_label
        self.layout = layout
        self.default_bucket_key = max(buckets)
        shape = ((batch_size, self.default_bucket_key) if self.major_axis == 0
                 else (self.default_bucket_key, batch_size))
        self.provide_data = [DataDesc(self.data_name, shape, dtype, layout=layout)]
        self.provide_label = [DataDesc(self.label_name, shape, dtype, layout=layout)]

        self.idx = []
        for i, bucket in enumerate(self.data):
            self.idx.extend((i, j) for j in range(0, len(bucket) - batch_size + 1, batch_size))
        self.curr_idx = 0
        self.nddata = []
        self.ndlabel = []
        self.reset()

    def reset(self):
        """Shuffle the batch order and the sentences within each bucket."""
        self.curr_idx = 0
        random.shuffle(self.idx)
        for bucket in self.data:
            np.random.shuffle(bucket)
        self.nddata = []
        self.ndlabel = []
        for bucket in self.data:
            label = np.empty_like(bucket)
            label[:, :-1] = bucket[:, 1:]
            label[:, -1] = self.invalid_label
            self.nddata.append(bucket)
            self.ndlabel.append(label)

    def next(self):
        if self.curr_idx == len(self.idx):
            raise StopIteration
        i, j = self.idx[self.curr_idx]
        self.curr_idx += 1
        data = self.nddata[i][j:j + self.batch_size]
        label = self.ndlabel[i][j:j + self.batch_size]
        if self.major_axis == 1:
            data, label = data.T, label.T
        data = ndarray.array(np.ascontiguousarray(data), dtype=self.dtype)
        label = ndarray.array(np.ascontiguousarray(label), dtype=self.dtype)
        return DataBatch([data], [label], pad=0, bucket_key=self.buckets[i],
                         provide_data=[DataDesc(self.data_name, data.shape, self.dtype,
                                                layout=self.layout)],
                         provide_label=[DataDesc(self.label_name, label.shape, self.dtype,
                                                 layout=self.layout)])
