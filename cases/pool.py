"""1-D pooling: the gradient of a max pool routes to each window's maximum;
where the maximum is tied, which element receives it is a convention.

Input layout (batch, length, channels) = (1, 3, 6); one window of 3 steps,
stride 1, valid padding, so each channel is pooled once.  Channels 1 (3, 2, 3)
and 5 (2, 3, 3) hold ties; the others have a unique maximum, at step 2.
"""
from __future__ import annotations

import numpy as np

from gradspec.case import Doc, case
from gradspec.expect import one_of, value
from gradspec.inputs import const, var
from gradspec.requests import Grad

SIGNAL = [[[1.0, 3.0, 4.0, 2.0, 5.0, 2.0],
           [4.0, 2.0, 5.0, 6.0, 8.0, 3.0],
           [5.0, 3.0, 7.0, 8.0, 9.0, 3.0]]]
UNTIED = [1.0, 0.0, 1.0, 1.0, 1.0, 0.0]  # channels 1 and 5 masked out

# Step 2 holds the maximum of channels 0, 2, 3 and 4.
ROUTED_UNTIED = [[[0, 0, 0, 0, 0, 0],
                  [0, 0, 0, 0, 0, 0],
                  [1, 0, 1, 1, 1, 0]]]
# Tied maxima: channel 1 at steps 0 and 2, channel 5 at steps 1 and 2.
TIES_TO_FIRST = [[[0, 1, 0, 0, 0, 0],
                  [0, 0, 0, 0, 0, 1],
                  [1, 0, 1, 1, 1, 0]]]
TIES_SPLIT = [[[0, 0.5, 0, 0, 0, 0],
               [0, 0, 0, 0, 0, 0.5],
               [1, 0.5, 1, 1, 1, 0.5]]]

MAX_POOL_DOCS = [
    Doc("https://keras.io/api/layers/pooling_layers/max_pooling1d/#maxpooling1d-class",
        quote="Downsamples the input representation by taking the maximum value over a spatial window of size "
              "pool_size."),
    Doc("https://pytorch.org/docs/stable/generated/torch.nn.MaxPool1d.html#torch.nn.MaxPool1d",
        quote="Applies a 1D max pooling over an input signal composed of several input planes."),
]

max_pool1d_untied = case(
    id="pool.max_pool1d_untied",
    statement="The gradient of a summed 1-D max pool routes 1 to each window's unique maximum and 0 elsewhere",
    doc=MAX_POOL_DOCS,
    tags=["pooling", "max_pool"],
    inputs={"x": var(SIGNAL), "mask": const(UNTIED)},
    body=lambda ops, x, mask: ops.sum(ops.max_pool1d(x, 3, 1) * mask),
    requests=Grad("x"),
    expect=value(ROUTED_UNTIED),
)

max_pool1d_ties = case(
    id="pool.max_pool1d_ties",
    statement="At a tied window maximum the gradient goes to the first tied element or is split evenly",
    doc=MAX_POOL_DOCS + [
        Doc("https://pytorch.org/docs/stable/notes/autograd.html#gradients-for-non-differentiable-functions",
            quote="If multiple values are possible, pick one arbitrarily."),
        Doc("https://github.com/HIPS/autograd/blob/v1.9.1/autograd/numpy/numpy_vjps.py#L515-L524",
            quote="Builds gradient of functions that choose a single item, such as min or max."),
    ],
    tags=["pooling", "max_pool", "ties"],
    inputs={"x": var(SIGNAL)},
    body=lambda ops, x: ops.sum(ops.max_pool1d(x, 3, 1)),
    requests=Grad("x"),
    expect=one_of(first=value(TIES_TO_FIRST), split=value(TIES_SPLIT)),
)

avg_pool1d = case(
    id="pool.avg_pool1d",
    statement="The gradient of a summed 1-D average pool (window 3) is 1/3 at every element",
    doc=Doc("https://keras.io/api/layers/pooling_layers/average_pooling1d/#averagepooling1d-class",
            quote="Downsamples the input representation by taking the average value over the window defined by "
                  "pool_size."),
    tags=["pooling", "avg_pool"],
    inputs={"x": var(SIGNAL)},
    body=lambda ops, x: ops.sum(ops.avg_pool1d(x, 3, 1)),
    requests=Grad("x"),
    expect=value(np.full((1, 3, 6), 1.0 / 3.0)),
)

max_pool1d_overlapping_tie = case(
    id="pool.max_pool1d_overlapping_tie",
    statement="Overlapping windows (window 2, stride 1) over [1, 3, 3, 2]: the middle window's maximum is tied "
              "between steps 1 and 2, each also the maximum of its other window; the tie goes to the first, the "
              "last, is split, or goes to both",
    doc=MAX_POOL_DOCS,
    tags=["pooling", "max_pool", "ties"],
    inputs={"x": var(np.array([1.0, 3.0, 3.0, 2.0]).reshape(1, 4, 1))},
    body=lambda ops, x: ops.sum(ops.max_pool1d(x, 2, 1)),
    requests=Grad("x"),
    expect=one_of(first=value(np.array([0, 2.0, 1.0, 0]).reshape(1, 4, 1)),
                  last=value(np.array([0, 1.0, 2.0, 0]).reshape(1, 4, 1)),
                  split=value(np.array([0, 1.5, 1.5, 0]).reshape(1, 4, 1)),
                  every=value(np.array([0, 2.0, 2.0, 0]).reshape(1, 4, 1))),
)
