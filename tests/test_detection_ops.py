"""Detection operators against numbers computed by MXNet 1.9.1 itself.

The literals below were made with MXNet 1.9.1 (pip, CPU, MXNET_SUBGRAPH_BACKEND=NONE): each op
called as mx.sym.contrib.<op>(..., name="t"), bound on mx.cpu() with float32 arrays of the
inputs shown, forward(is_train=True), and for box_nms backward() with the head gradient
arange(data.size).reshape(data.shape) / 10; outputs printed with np.array2string(...,
floatmode="unique"), so every float32 value is exact.  cysym must reproduce them bit for bit:
the inputs hold ties (equal scores, identical boxes), degenerate boxes (negative width, zero
area) and a background class, and the params reach MXNet's quirks (bipartite_matching with
topk=1 makes two matches, MultiBoxDetection's nms_topk leaves unsorted rows behind,
Proposal repeats its survivors to fill rpn_post_nms_top_n rows).  MXNet is not needed to run
these tests.
"""
import numpy as np
import pytest

import cysym as mx
from cysym.base import MXNetError

# ---------------------------------------------------------------------------------------------
# inputs

NMS_DATA = [[[0, 0.5, 0.1, 0.1, 0.4, 0.4], [1, 0.5, 0.12, 0.1, 0.42, 0.4],
             [0, 0.5, 0.15, 0.12, 0.45, 0.42], [2, 0.9, 0.6, 0.6, 0.5, 0.9],
             [0, 0.7, 0.5, 0.5, 0.9, 0.9], [1, 0.2, 0.55, 0.55, 0.95, 0.95],
             [0, 0.05, 0.0, 0.0, 1.0, 1.0]],
            [[1, 0.3, 0.2, 0.2, 0.6, 0.6], [1, 0.3, 0.2, 0.2, 0.6, 0.6],
             [0, 0.8, 0.0, 0.0, 0.3, 0.3], [1, 0.6, 0.25, 0.25, 0.65, 0.65],
             [2, 0.6, 0.1, 0.1, 0.1, 0.1], [0, 0.1, 0.7, 0.7, 0.8, 0.8],
             [0, 0.4, 0.01, 0.02, 0.31, 0.29]]]
IOU_LHS = [[0.1, 0.1, 0.5, 0.5], [0.3, 0.3, 0.3, 0.7], [0.5, 0.5, 0.9, 0.9]]
IOU_RHS = [[[0.5, 0.5, 0.6, 0.6], [0.2, 0.2, 0.4, 0.4]], [[0.1, 0.1, 0.5, 0.5], [0.6, 0.2, 0.2, 0.6]]]
DECODE_PARAMS = dict(std0=0.1, std1=0.1, std2=0.2, std3=0.2, clip=0.15, format="corner")
MATCH_SCORES = [[[0.5, 0.9, 0.9], [0.9, 0.2, 0.4], [0.7, 0.7, 0.1], [0.3, 0.9, 0.6]]]
PRIOR_PARAMS = dict(sizes=(0.5, 0.25), ratios=(1, 2, 0.5), clip=True, steps=(0.4, 0.3),
                    offsets=(0.5, 0.25))
ANCHOR = [[[0.0, 0.0, 0.5, 0.5], [0.5, 0.0, 1.0, 0.5], [0.0, 0.5, 0.5, 1.0], [0.5, 0.5, 1.0, 1.0],
           [0.25, 0.25, 0.75, 0.75], [0.1, 0.1, 0.3, 0.3]]]
TARGET_LABEL = [[[1, 0.05, 0.05, 0.45, 0.5], [0, 0.3, 0.3, 0.8, 0.7], [-1, -1, -1, -1, -1]],
                [[2, 0.55, 0.5, 0.95, 0.95], [-1, -1, -1, -1, -1], [-1, -1, -1, -1, -1]]]
TARGET_PARAMS = dict(overlap_threshold=0.3, negative_mining_ratio=2, negative_mining_thresh=0.4)
DETECTION_CLS_PROB = [[[0.1, 0.2, 0.6, 0.3, 0.05, 0.5], [0.5, 0.7, 0.3, 0.6, 0.05, 0.2],
                       [0.4, 0.1, 0.1, 0.1, 0.9, 0.3]]]
DETECTION_PARAMS = dict(threshold=0.25, nms_threshold=0.3, nms_topk=3)
PROPOSAL_PARAMS = dict(rpn_pre_nms_top_n=5, rpn_post_nms_top_n=7, scales=(1.0, 2.0), ratios=(1.0,),
                       feature_stride=8, rpn_min_size=4, threshold=0.5, output_score=True)

# ---------------------------------------------------------------------------------------------
# MXNet 1.9.1's results (and the generated inputs they came from)

NMS_CLASSES_PARAMS = {'overlap_thresh': 0.3, 'valid_thresh': 0.1, 'id_index': 0, 'background_id': 2}
NMS_CLASSES_OUT = [[[ 0.  ,  0.7 ,  0.5 ,  0.5 ,  0.9 ,  0.9 ],
      [ 0.  ,  0.5 ,  0.1 ,  0.1 ,  0.4 ,  0.4 ],
      [ 1.  ,  0.5 ,  0.12,  0.1 ,  0.42,  0.4 ],
      [ 1.  ,  0.2 ,  0.55,  0.55,  0.95,  0.95],
      [-1.  , -1.  , -1.  , -1.  , -1.  , -1.  ],
      [-1.  , -1.  , -1.  , -1.  , -1.  , -1.  ],
      [-1.  , -1.  , -1.  , -1.  , -1.  , -1.  ]],

     [[ 0.  ,  0.8 ,  0.  ,  0.  ,  0.3 ,  0.3 ],
      [ 1.  ,  0.6 ,  0.25,  0.25,  0.65,  0.65],
      [-1.  , -1.  , -1.  , -1.  , -1.  , -1.  ],
      [-1.  , -1.  , -1.  , -1.  , -1.  , -1.  ],
      [-1.  , -1.  , -1.  , -1.  , -1.  , -1.  ],
      [-1.  , -1.  , -1.  , -1.  , -1.  , -1.  ],
      [-1.  , -1.  , -1.  , -1.  , -1.  , -1.  ]]]
NMS_CLASSES_GRAD = [[[0.6, 0.7, 0.8, 0.9, 1. , 1.1],
      [1.2, 1.3, 1.4, 1.5, 1.6, 1.7],
      [0. , 0. , 0. , 0. , 0. , 0. ],
      [0. , 0. , 0. , 0. , 0. , 0. ],
      [0. , 0.1, 0.2, 0.3, 0.4, 0.5],
      [1.8, 1.9, 2. , 2.1, 2.2, 2.3],
      [0. , 0. , 0. , 0. , 0. , 0. ]],

     [[0. , 0. , 0. , 0. , 0. , 0. ],
      [0. , 0. , 0. , 0. , 0. , 0. ],
      [4.2, 4.3, 4.4, 4.5, 4.6, 4.7],
      [4.8, 4.9, 5. , 5.1, 5.2, 5.3],
      [0. , 0. , 0. , 0. , 0. , 0. ],
      [0. , 0. , 0. , 0. , 0. , 0. ],
      [0. , 0. , 0. , 0. , 0. , 0. ]]]
NMS_FORCE_TOPK_PARAMS = {'overlap_thresh': 0.3, 'topk': 4, 'id_index': 0, 'force_suppress': True}
NMS_FORCE_TOPK_OUT = [[[ 2.  ,  0.9 ,  0.6 ,  0.6 ,  0.5 ,  0.9 ],
      [ 0.  ,  0.7 ,  0.5 ,  0.5 ,  0.9 ,  0.9 ],
      [ 0.  ,  0.5 ,  0.1 ,  0.1 ,  0.4 ,  0.4 ],
      [-1.  , -1.  , -1.  , -1.  , -1.  , -1.  ],
      [-1.  , -1.  , -1.  , -1.  , -1.  , -1.  ],
      [-1.  , -1.  , -1.  , -1.  , -1.  , -1.  ],
      [-1.  , -1.  , -1.  , -1.  , -1.  , -1.  ]],

     [[ 0.  ,  0.8 ,  0.  ,  0.  ,  0.3 ,  0.3 ],
      [ 1.  ,  0.6 ,  0.25,  0.25,  0.65,  0.65],
      [ 2.  ,  0.6 ,  0.1 ,  0.1 ,  0.1 ,  0.1 ],
      [-1.  , -1.  , -1.  , -1.  , -1.  , -1.  ],
      [-1.  , -1.  , -1.  , -1.  , -1.  , -1.  ],
      [-1.  , -1.  , -1.  , -1.  , -1.  , -1.  ],
      [-1.  , -1.  , -1.  , -1.  , -1.  , -1.  ]]]
NMS_FORCE_TOPK_GRAD = [[[1.2, 1.3, 1.4, 1.5, 1.6, 1.7],
      [0. , 0. , 0. , 0. , 0. , 0. ],
      [0. , 0. , 0. , 0. , 0. , 0. ],
      [0. , 0.1, 0.2, 0.3, 0.4, 0.5],
      [0.6, 0.7, 0.8, 0.9, 1. , 1.1],
      [0. , 0. , 0. , 0. , 0. , 0. ],
      [0. , 0. , 0. , 0. , 0. , 0. ]],

     [[0. , 0. , 0. , 0. , 0. , 0. ],
      [0. , 0. , 0. , 0. , 0. , 0. ],
      [4.2, 4.3, 4.4, 4.5, 4.6, 4.7],
      [4.8, 4.9, 5. , 5.1, 5.2, 5.3],
      [5.4, 5.5, 5.6, 5.7, 5.8, 5.9],
      [0. , 0. , 0. , 0. , 0. , 0. ],
      [0. , 0. , 0. , 0. , 0. , 0. ]]]
NMS_CENTER_PARAMS = {'overlap_thresh': 0.4, 'in_format': 'center', 'out_format': 'corner'}
NMS_CENTER_OUT = [[[ 2.        ,  0.9       ,  0.35000002,  0.15000004,  0.85      ,  1.05      ],
      [ 0.        ,  0.5       , -0.1       , -0.1       ,  0.3       ,  0.3       ],
      [ 0.        ,  0.05      , -0.5       , -0.5       ,  0.5       ,  0.5       ],
      [-1.        , -1.        , -1.        , -1.        , -1.        , -1.        ],
      [-1.        , -1.        , -1.        , -1.        , -1.        , -1.        ],
      [-1.        , -1.        , -1.        , -1.        , -1.        , -1.        ],
      [-1.        , -1.        , -1.        , -1.        , -1.        , -1.        ]],

     [[ 0.        ,  0.8       , -0.15      , -0.15      ,  0.15      ,  0.15      ],
      [ 1.        ,  0.6       , -0.07499999, -0.07499999,  0.575     ,  0.575     ],
      [ 2.        ,  0.6       ,  0.05      ,  0.05      ,  0.15      ,  0.15      ],
      [ 0.        ,  0.1       ,  0.29999998,  0.29999998,  1.1       ,  1.1       ],
      [-1.        , -1.        , -1.        , -1.        , -1.        , -1.        ],
      [-1.        , -1.        , -1.        , -1.        , -1.        , -1.        ],
      [-1.        , -1.        , -1.        , -1.        , -1.        , -1.        ]]]
NMS_CENTER_GRAD = [[[0.6, 0.7, 0.8, 0.9, 1. , 1.1],
      [0. , 0. , 0. , 0. , 0. , 0. ],
      [0. , 0. , 0. , 0. , 0. , 0. ],
      [0. , 0.1, 0.2, 0.3, 0.4, 0.5],
      [0. , 0. , 0. , 0. , 0. , 0. ],
      [0. , 0. , 0. , 0. , 0. , 0. ],
      [1.2, 1.3, 1.4, 1.5, 1.6, 1.7]],

     [[0. , 0. , 0. , 0. , 0. , 0. ],
      [0. , 0. , 0. , 0. , 0. , 0. ],
      [4.2, 4.3, 4.4, 4.5, 4.6, 4.7],
      [4.8, 4.9, 5. , 5.1, 5.2, 5.3],
      [5.4, 5.5, 5.6, 5.7, 5.8, 5.9],
      [6. , 6.1, 6.2, 6.3, 6.4, 6.5],
      [0. , 0. , 0. , 0. , 0. , 0. ]]]
IOU_CORNER = [[[0.        , 0.25      ],
      [1.        , 0.        ]],

     [[0.        , 0.        ],
      [0.        , 0.        ]],

     [[0.06250004, 0.        ],
      [0.        , 0.        ]]]
IOU_CENTER = [[[0.038297873, 0.4260869  ],
      [1.         , 0.         ]],

     [[0.24590164 , 0.37037036 ],
      [0.21052627 , 0.         ]],

     [[0.4444445  , 0.14454277 ],
      [0.092783496, 0.10714289 ]]]
ENCODE_INPUTS = {'samples': [[ 1., -1.,  1.,  0.,  1.],
     [ 1.,  1.,  0.,  1., -1.]], 'matches': [[0., 1., 2., 0., 1.],
     [2., 2., 0., 1., 0.]], 'anchors': [[[0.313, 0.449, 0.788, 0.513],
      [0.15 , 0.437, 0.403, 0.811],
      [0.399, 0.234, 0.552, 0.539],
      [0.127, 0.223, 0.652, 0.677],
      [0.498, 0.396, 0.711, 0.894]],

     [[0.108, 0.08 , 0.706, 0.422],
      [0.018, 0.257, 0.633, 0.859],
      [0.315, 0.257, 0.648, 0.524],
      [0.006, 0.096, 0.746, 0.5  ],
      [0.185, 0.002, 0.815, 0.477]]], 'refs': [[[0.134, 0.44 , 0.705, 0.874],
      [0.32 , 0.371, 0.496, 0.721],
      [0.254, 0.436, 0.631, 0.749]],

     [[0.03 , 0.194, 0.612, 0.525],
      [0.408, 0.19 , 0.939, 0.745],
      [0.303, 0.319, 0.788, 0.525]]], 'means': [ 0.  ,  0.1 , -0.1 ,  0.05], 'stds': [0.1, 0.1, 0.2, 0.2]}
ENCODE_TARGETS = [[[-2.7578943  , 26.499996   ,  1.4203721  ,  9.3208065  ],
      [ 0.         ,  0.         ,  0.         ,  0.         ],
      [-2.1568623  ,  5.7540975  ,  5.009036   , -0.120542385],
      [ 0.         ,  0.         ,  0.         ,  0.         ],
      [-9.225351   , -2.9879513  , -0.45404154 , -2.0133343  ]],

     [[ 2.316053   ,  4.         , -0.54720944 , -2.7846735  ],
      [ 3.5772352  , -3.2591357  , -0.6873671  , -5.611907   ],
      [ 0.         ,  0.         ,  0.         ,  0.         ],
      [ 4.02027    ,  3.1955454  , -1.1594409  ,  1.3377665  ],
      [ 0.         ,  0.         ,  0.         ,  0.         ]]]
ENCODE_MASKS = [[[1., 1., 1., 1.],
      [0., 0., 0., 0.],
      [1., 1., 1., 1.],
      [0., 0., 0., 0.],
      [1., 1., 1., 1.]],

     [[1., 1., 1., 1.],
      [1., 1., 1., 1.],
      [0., 0., 0., 0.],
      [1., 1., 1., 1.],
      [0., 0., 0., 0.]]]
DECODE_INPUTS = {'data': [[[-1.187, -0.579, -0.196,  0.899],
      [ 1.145, -1.324, -0.795,  0.647],
      [-1.992, -0.463, -0.097,  1.257]],

     [[ 0.689, -0.327, -0.369, -0.25 ],
      [ 1.524, -0.428, -0.304,  0.353],
      [-0.121, -0.197, -1.114, -0.012]]], 'anchors': [[[0.1, 0.2, 0.5, 0.6],
      [0.3, 0.1, 0.4, 0.9],
      [0. , 0. , 1. , 0.5]]]}
DECODE_OUT = [[[ 0.060208336,  0.14447315 ,  0.44483173 ,  0.6092069  ],
      [ 0.3188002  , -0.061178118,  0.40409982 ,  0.84933805 ],
      [-0.1895935  , -0.06360856 ,  0.7911935  ,  0.5173086  ]],

     [[ 0.14178851 ,  0.19667412 ,  0.51333153 ,  0.57716596 ],
      [ 0.31818947 ,  0.03649926 ,  0.4122906  ,  0.89502066 ],
      [ 0.087762535, -0.009250715,  0.88803744 ,  0.4895507  ]]]
MATCH = ([[ 1.,  0., -1.,  2.]], [[1., 0., 3.]])
MATCH_TOPK1 = ([[ 1.,  0., -1., -1.]], [[ 1.,  0., -1.]])
MATCH_ASCEND = ([[-1.,  1.,  2.,  0.]], [[3., 1., 2.]])
PRIOR = [[[0.        , 0.        , 0.24166667, 0.45      ],
      [0.        , 0.075     , 0.15833333, 0.325     ],
      [0.        , 0.02322331, 0.31070226, 0.3767767 ],
      [0.        , 0.        , 0.19285113, 0.5535534 ],
      [0.20833333, 0.        , 0.5416667 , 0.45      ],
      [0.29166666, 0.075     , 0.45833334, 0.325     ],
      [0.13929774, 0.02322331, 0.6107023 , 0.3767767 ],
      [0.25714886, 0.        , 0.49285114, 0.5535534 ],
      [0.5083333 , 0.        , 0.8416667 , 0.45      ],
      [0.5916667 , 0.075     , 0.7583333 , 0.325     ],
      [0.43929774, 0.02322331, 0.9107023 , 0.3767767 ],
      [0.5571489 , 0.        , 0.79285115, 0.5535534 ],
      [0.        , 0.35000002, 0.24166667, 0.85      ],
      [0.        , 0.47500002, 0.15833333, 0.725     ],
      [0.        , 0.42322332, 0.31070226, 0.77677673],
      [0.        , 0.24644664, 0.19285113, 0.95355344],
      [0.20833333, 0.35000002, 0.5416667 , 0.85      ],
      [0.29166666, 0.47500002, 0.45833334, 0.725     ],
      [0.13929774, 0.42322332, 0.6107023 , 0.77677673],
      [0.25714886, 0.24644664, 0.49285114, 0.95355344],
      [0.5083333 , 0.35000002, 0.8416667 , 0.85      ],
      [0.5916667 , 0.47500002, 0.7583333 , 0.725     ],
      [0.43929774, 0.42322332, 0.9107023 , 0.77677673],
      [0.5571489 , 0.24644664, 0.79285115, 0.95355344]]]
TARGET_CLS_PRED = [[[-0.44,  1.17,  0.65, -0.02,  0.67, -0.34],
      [ 1.05, -0.01,  0.58, -1.29,  0.35, -1.69],
      [-2.04, -0.3 , -0.9 ,  0.16,  2.24, -0.83]],

     [[-0.62,  0.21,  0.49, -0.18, -0.21,  0.7 ],
      [ 0.52, -1.03, -0.08,  0.04, -1.05,  0.26],
      [-0.86,  0.97,  0.19,  0.09, -0.59, -0.12]]]
TARGET_LOC = [[ 0.        ,  0.5000001 , -1.115718  , -0.5268027 ,  0.        ,  0.        ,  0.        ,
       0.        ,  0.        ,  0.        ,  0.        ,  0.        ,  0.        ,  0.        ,
       0.        ,  0.        ,  1.0000002 ,  0.        ,  0.        , -1.115718  ,  0.        ,
       0.        ,  0.        ,  0.        ],
     [ 0.        ,  0.        ,  0.        ,  0.        ,  0.        ,  0.        ,  0.        ,
       0.        ,  0.        ,  0.        ,  0.        ,  0.        ,  0.        , -0.49999952,
      -1.115718  , -0.5268027 ,  0.        ,  0.        ,  0.        ,  0.        ,  0.        ,
       0.        ,  0.        ,  0.        ]]
TARGET_MASK = [[1., 1., 1., 1., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 1., 1., 1., 1., 0., 0., 0.,
      0.],
     [0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 1., 1., 1., 1., 0., 0., 0., 0., 0., 0., 0.,
      0.]]
TARGET_CLS = [[ 2.,  0.,  0.,  0.,  1.,  0.],
     [ 0.,  0., -1.,  3., -1., -1.]]
DETECTION_LOC = [[-1.  , -0.57,  0.18, -1.06,  0.42, -0.87,  0.38, -0.42,  0.39,  0.07, -0.77,  0.62,  0.72,
      -0.03, -0.14, -0.08, -0.49,  0.55, -0.27, -0.03, -0.4 , -0.31, -0.64,  0.63]]
DETECTION_OUT = [[[ 1.        ,  0.9       ,  0.23864196,  0.27899548,  0.712358  ,  0.77600443],
      [ 0.        ,  0.7       ,  0.5012594 ,  0.        ,  1.        ,  0.4363578 ],
      [ 0.        ,  0.6       ,  0.54290295,  0.50246817,  1.        ,  0.9945318 ],
      [-1.        ,  0.6       ,  0.54290295,  0.50246817,  1.        ,  0.9945318 ],
      [-1.        ,  0.9       ,  0.23864196,  0.27899548,  0.712358  ,  0.77600443],
      [-1.        ,  0.3       ,  0.10401466,  0.08037178,  0.27998534,  0.3072282 ]]]
PROPOSAL_INPUTS = {'cls_prob': [[[[0.52, 0.95, 0.25],
       [0.81, 0.68, 0.72]],

      [[0.63, 0.97, 0.33],
       [0.4 , 0.2 , 0.05]],

      [[0.21, 0.92, 0.84],
       [0.11, 0.6 , 0.48]],

      [[0.59, 0.66, 0.31],
       [0.96, 0.47, 0.63]]],


     [[[0.64, 0.18, 0.06],
       [0.41, 0.76, 0.82]],

      [[0.73, 0.11, 0.91],
       [0.8 , 0.88, 0.52]],

      [[0.92, 0.05, 0.03],
       [0.02, 0.25, 0.25]],

      [[0.19, 0.57, 0.04],
       [0.59, 0.17, 0.68]]]], 'bbox_pred': [[[[-0.03,  0.11,  0.16],
       [ 0.17,  0.18, -0.09]],

      [[ 0.3 , -0.25,  0.17],
       [ 0.1 ,  0.17,  0.38]],

      [[ 0.3 , -0.23, -0.34],
       [ 0.16, -0.2 , -0.  ]],

      [[ 0.17, -0.33, -0.42],
       [ 0.05,  0.01, -0.05]],

      [[ 0.01, -0.17, -0.3 ],
       [-0.03, -0.19, -0.33]],

      [[ 0.1 , -0.01,  0.08],
       [-0.2 , -0.13, -0.2 ]],

      [[-0.18,  0.04, -0.16],
       [ 0.07,  0.07,  0.41]],

      [[-0.28,  0.18, -0.02],
       [-0.  , -0.29, -0.09]]],


     [[[ 0.15, -0.02,  0.02],
       [-0.06,  0.23, -0.  ]],

      [[-0.44, -0.14, -0.39],
       [-0.65, -0.11,  0.27]],

      [[ 0.01, -0.23, -0.19],
       [ 0.23,  0.03,  0.01]],

      [[-0.01,  0.01,  0.16],
       [ 0.11,  0.04, -0.21]],

      [[ 0.1 , -0.14,  0.22],
       [-0.25, -0.03, -0.  ]],

      [[-0.26,  0.34,  0.29],
       [-0.09,  0.15,  0.08]],

      [[-0.52,  0.05, -0.01],
       [ 0.02, -0.22, -0.05]],

      [[-0.04,  0.24,  0.07],
       [-0.  ,  0.31, -0.11]]]], 'im_info': [[16. , 22. ,  1. ],
     [12. , 24. ,  0.5]]}
PROPOSAL_OUT = [[ 0.       ,  0.       ,  0.8000002, 11.100065 , 15.       ],
     [ 0.       ,  9.701866 ,  0.       , 15.058134 ,  3.875695 ],
     [ 0.       , 10.165077 ,  9.319799 , 15.714924 , 15.       ],
     [ 0.       ,  0.       ,  0.8000002, 11.100065 , 15.       ],
     [ 0.       ,  9.701866 ,  0.       , 15.058134 ,  3.875695 ],
     [ 0.       , 10.165077 ,  9.319799 , 15.714924 , 15.       ],
     [ 0.       ,  0.       ,  0.8000002, 11.100065 , 15.       ]]
PROPOSAL_SCORE = [[0.96],
     [0.92],
     [0.6 ],
     [0.96],
     [0.92],
     [0.6 ],
     [0.96]]
MULTIPROPOSAL_OUT = [[ 0.         ,  0.         ,  0.8000002  , 11.100065   , 15.         ],
     [ 0.         ,  9.701866   ,  0.         , 15.058134   ,  3.875695   ],
     [ 0.         , 10.165077   ,  9.319799   , 15.714924   , 15.         ],
     [ 0.         ,  0.         ,  0.8000002  , 11.100065   , 15.         ],
     [ 0.         ,  9.701866   ,  0.         , 15.058134   ,  3.875695   ],
     [ 0.         , 10.165077   ,  9.319799   , 15.714924   , 15.         ],
     [ 0.         ,  0.         ,  0.8000002  , 11.100065   , 15.         ],
     [ 1.         ,  1.1597991  ,  0.         ,  8.2402     ,  3.4401994  ],
     [ 1.         ,  1.3498316  ,  0.         , 17.17017    , 11.         ],
     [ 1.         ,  8.661865   ,  0.         , 14.018135   ,  5.920201   ],
     [ 1.         , 15.599602   ,  0.059933662, 23.         , 11.         ],
     [ 1.         ,  1.1597991  ,  0.         ,  8.2402     ,  3.4401994  ],
     [ 1.         ,  1.3498316  ,  0.         , 17.17017    , 11.         ],
     [ 1.         ,  8.661865   ,  0.         , 14.018135   ,  5.920201   ]]
MULTIPROPOSAL_SCORE = [[0.96],
     [0.92],
     [0.6 ],
     [0.96],
     [0.92],
     [0.6 ],
     [0.96],
     [0.92],
     [0.57],
     [0.05],
     [0.04],
     [0.92],
     [0.57],
     [0.05]]


# ---------------------------------------------------------------------------------------------
# tests

def run(op, inputs, params, head=None, dtype=np.float32):
    """Forward (and backward with `head`) of one op, as the literals were made."""
    inputs = {k: np.asarray(v, dtype) for k, v in inputs.items()}
    sym = getattr(mx.sym, op)(**{k: mx.sym.Variable(k) for k in inputs}, **params, name="t")
    exe = sym.simple_bind(mx.cpu(), grad_req="write" if head is not None else "null",
                          type_dict={k: dtype for k in inputs},
                          **{k: v.shape for k, v in inputs.items()})
    for k, v in inputs.items():
        exe.arg_dict[k][:] = v
    outputs = [np.array(o) for o in exe.forward(is_train=head is not None)]
    if head is None:
        return outputs
    exe.backward([np.asarray(head, dtype)])
    return outputs, {k: np.array(exe.grad_dict[k]) for k in inputs}


def same(actual, expected):
    np.testing.assert_array_equal(actual, np.asarray(expected, np.float32))


@pytest.mark.parametrize("params,out,grad", [(NMS_CLASSES_PARAMS, NMS_CLASSES_OUT, NMS_CLASSES_GRAD),
                                             (NMS_FORCE_TOPK_PARAMS, NMS_FORCE_TOPK_OUT,
                                              NMS_FORCE_TOPK_GRAD),
                                             (NMS_CENTER_PARAMS, NMS_CENTER_OUT, NMS_CENTER_GRAD)],
                         ids=["classes-background", "force-topk", "center-to-corner"])
def test_box_nms(params, out, grad):
    head = np.arange(np.size(NMS_DATA)).reshape(np.shape(NMS_DATA)) / 10
    (result,), grads = run("_contrib_box_nms", {"data": NMS_DATA}, params, head)
    same(result, out)
    same(grads["data"], grad)


def test_box_nms_alias_and_hidden_record():
    sym = mx.sym._contrib_box_non_maximum_suppression(mx.sym.Variable("data"), name="t")
    assert sym.list_outputs() == ["t_output0"]     # the record output is hidden, as in MXNet
    (result,) = run("_contrib_box_non_maximum_suppression", {"data": NMS_DATA}, NMS_CLASSES_PARAMS)
    same(result, NMS_CLASSES_OUT)
    again = mx.sym.load_json(sym.tojson())
    assert again.list_outputs() == ["t_output0"]


@pytest.mark.parametrize("fmt,expected", [("corner", IOU_CORNER), ("center", IOU_CENTER)])
def test_box_iou(fmt, expected):
    (result,) = run("_contrib_box_iou", {"lhs": IOU_LHS, "rhs": IOU_RHS}, {"format": fmt})
    same(result, expected)


def test_box_encode():
    targets, masks = run("_contrib_box_encode", ENCODE_INPUTS, {})
    same(targets, ENCODE_TARGETS)
    same(masks, ENCODE_MASKS)


def test_box_decode():
    (result,) = run("_contrib_box_decode", DECODE_INPUTS, DECODE_PARAMS)
    same(result, DECODE_OUT)


@pytest.mark.parametrize("params,expected", [(dict(threshold=0.25), MATCH),
                                             (dict(threshold=0.25, topk=1), MATCH_TOPK1),
                                             (dict(threshold=0.65, is_ascend=True), MATCH_ASCEND)],
                         ids=["descending", "topk1-makes-two", "ascending"])
def test_bipartite_matching(params, expected):
    rows, cols = run("_contrib_bipartite_matching", {"data": MATCH_SCORES}, params)
    same(rows, expected[0])
    same(cols, expected[1])


def test_multibox_prior():
    (result,) = run("_contrib_MultiBoxPrior", {"data": np.zeros((1, 2, 2, 3))}, PRIOR_PARAMS)
    same(result, PRIOR)


def test_multibox_target():
    loc, mask, cls = run("_contrib_MultiBoxTarget", {"anchor": ANCHOR, "label": TARGET_LABEL,
                                                     "cls_pred": TARGET_CLS_PRED}, TARGET_PARAMS)
    same(loc, TARGET_LOC)
    same(mask, TARGET_MASK)
    same(cls, TARGET_CLS)


def test_multibox_detection():
    (result,) = run("_contrib_MultiBoxDetection", {"cls_prob": DETECTION_CLS_PROB,
                                                   "loc_pred": DETECTION_LOC, "anchor": ANCHOR},
                    DETECTION_PARAMS)
    same(result, DETECTION_OUT)


def test_proposal():
    inputs = {k: np.asarray(v)[:1] for k, v in PROPOSAL_INPUTS.items()}
    rois, scores = run("_contrib_Proposal", inputs, PROPOSAL_PARAMS)
    same(rois, PROPOSAL_OUT)
    same(scores, PROPOSAL_SCORE)


def test_multi_proposal():
    rois, scores = run("_contrib_MultiProposal", PROPOSAL_INPUTS, PROPOSAL_PARAMS)
    same(rois, MULTIPROPOSAL_OUT)
    same(scores, MULTIPROPOSAL_SCORE)


def test_proposal_score_output_is_hidden_by_default():
    sym = mx.sym._contrib_Proposal(mx.sym.Variable("cls_prob"), mx.sym.Variable("bbox_pred"),
                                   mx.sym.Variable("im_info"), name="t")
    assert sym.list_outputs() == ["t_output"]
    assert len(sym.get_internals().list_outputs()) == 4


def test_proposal_refuses_several_images():
    params = dict(PROPOSAL_PARAMS, output_score=False)
    with pytest.raises(MXNetError, match="multiple images"):
        run("_contrib_Proposal", PROPOSAL_INPUTS, params)


@pytest.mark.parametrize("op,inputs,params", [
    ("_contrib_MultiBoxPrior", {"data": np.zeros((1, 2, 2, 3))}, PRIOR_PARAMS),
    ("_contrib_MultiProposal", PROPOSAL_INPUTS, PROPOSAL_PARAMS),
], ids=["MultiBoxPrior", "MultiProposal"])
def test_float64_computes_in_float32_as_mxnet(op, inputs, params):
    """MXNet computes these in C++ float whatever the data type: float64 gives its float32
    numbers exactly."""
    for single, double in zip(run(op, inputs, params), run(op, inputs, params, dtype=np.float64)):
        assert double.dtype == np.float64
        np.testing.assert_array_equal(double, single)


def test_box_nms_float64_matches_float32_decisions():
    (single,), _ = run("_contrib_box_nms", {"data": NMS_DATA}, NMS_CLASSES_PARAMS, np.ones((2, 7, 6)))
    (double,), grads = run("_contrib_box_nms", {"data": NMS_DATA}, NMS_CLASSES_PARAMS,
                           np.ones((2, 7, 6)), dtype=np.float64)
    np.testing.assert_allclose(double, single, rtol=1e-7)
    assert grads["data"].dtype == np.float64


def test_box_nms_bad_params_name_the_operator():
    with pytest.raises(MXNetError, match="t.*score_index"):
        run("_contrib_box_nms", {"data": NMS_DATA}, dict(score_index=2))
