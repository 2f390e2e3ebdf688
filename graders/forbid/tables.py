"""The tables of forbidden names: which aten operators a forbidden name stands for
(:data:`ATEN_FAMILIES`), the ways into autograd's engine, and :data:`AUTOGRAD`."""

from __future__ import annotations

_TRANSPOSE = ("transpose", "transpose_")
_PERMUTE = ("permute", "numpy_T")
_NLL = ("nll_loss", "nll_loss_nd", "nll_loss2d", "nll_loss_forward", "nll_loss2d_forward",
        "cross_entropy_loss")
_CONV = ("convolution", "_convolution", "_convolution_mode", "convolution_overrideable", "conv1d",
         "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
         "conv_tbc", "_slow_conv2d_forward", "thnn_conv2d", "slow_conv3d", "slow_conv3d_forward",
         "slow_conv_dilated2d", "slow_conv_dilated3d", "slow_conv_transpose2d",
         "slow_conv_transpose3d", "_conv_depthwise2d", "conv_depthwise3d", "mkldnn_convolution",
         "_nnpack_spatial_convolution", "cudnn_convolution", "cudnn_convolution_transpose",
         "miopen_convolution", "miopen_convolution_transpose", "miopen_depthwise_convolution",
         "_mps_convolution", "_mps_convolution_transpose")
_CONV_BACKWARD = ("convolution_backward", "convolution_backward_overrideable",
                  "_slow_conv2d_backward", "slow_conv_transpose2d_backward",
                  "mkldnn_convolution_backward")
_POOL = ("max_pool1d", "max_pool1d_with_indices", "max_pool2d", "max_pool2d_with_indices",
         "max_pool3d", "max_pool3d_with_indices", "mkldnn_max_pool2d", "mkldnn_max_pool3d",
         "quantized_max_pool1d", "quantized_max_pool2d", "quantized_max_pool3d", "avg_pool1d",
         "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
         "adaptive_avg_pool3d", "_adaptive_avg_pool2d", "_adaptive_avg_pool3d",
         "mkldnn_adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d",
         "adaptive_max_pool3d", "fractional_max_pool2d", "fractional_max_pool3d")
_BATCH_NORM = ("batch_norm", "native_batch_norm", "_native_batch_norm_legit",
               "_native_batch_norm_legit_no_training", "_native_batch_norm_legit_functional",
               "_batch_norm_impl_index", "_batch_norm_with_update",
               "_batch_norm_with_update_functional", "_batch_norm_no_update", "cudnn_batch_norm",
               "miopen_batch_norm", "instance_norm")
_DROPOUT = ("dropout", "dropout_", "native_dropout", "_fused_dropout", "feature_dropout",
            "feature_dropout_", "alpha_dropout", "alpha_dropout_", "feature_alpha_dropout",
            "feature_alpha_dropout_")
_RNN = ("rnn_tanh", "rnn_relu", "mkldnn_rnn", "mkldnn_rnn_layer", "_cudnn_rnn", "miopen_rnn")
_SDPA = ("scaled_dot_product_attention", "_scaled_dot_product_attention_math",
         "_scaled_dot_product_flash_attention", "_scaled_dot_product_flash_attention_for_cpu",
         "_scaled_dot_product_efficient_attention", "_scaled_dot_product_cudnn_attention",
         "_scaled_dot_product_fused_attention_overrideable", "_flash_attention_forward",
         "_efficient_attention_forward", "_cudnn_attention_forward", "_fused_sdp_choice")

#: The aten operators a forbidden name stands for, besides the operator of its own name: what
#: the dispatcher sees when that function runs (after torch's own decompositions), and only
#: what an honest solution of the exercises that forbid it does not reach. Looked up by the
#: whole dotted name first, then by its last part.
ATEN_FAMILIES: dict[str, tuple[str, ...]] = {
    "transpose": _TRANSPOSE, "transpose_": _TRANSPOSE, "swapaxes": _TRANSPOSE,
    "swapdims": _TRANSPOSE, "mT": _TRANSPOSE, "mH": _TRANSPOSE + ("adjoint",),
    "H": _TRANSPOSE + ("adjoint",), "t": ("t",), "t_": ("t_",),
    "T": _PERMUTE, "permute": _PERMUTE, "movedim": _PERMUTE + ("movedim",),
    "moveaxis": _PERMUTE + ("moveaxis",),
    "expand": ("expand",), "expand_as": ("expand",), "broadcast_to": ("expand",),
    "broadcast_tensors": ("expand",),
    "unfold": ("unfold", "im2col"), "Unfold": ("im2col",),
    "logsumexp": ("logsumexp", "special_logsumexp"),
    "softmax": ("softmax", "_softmax", "_safe_softmax", "special_softmax"),
    "log_softmax": ("log_softmax", "_log_softmax", "special_log_softmax"),
    "cross_entropy": _NLL, "nll_loss": _NLL, "nll_loss2d": _NLL, "CrossEntropyLoss": _NLL,
    "NLLLoss": _NLL,
    "binary_cross_entropy_with_logits": ("binary_cross_entropy_with_logits",),
    "BCEWithLogitsLoss": ("binary_cross_entropy_with_logits",),
    "binary_cross_entropy": ("binary_cross_entropy",), "BCELoss": ("binary_cross_entropy",),
    **{name: _CONV for name in ("conv1d", "conv2d", "conv3d", "conv_transpose1d",
                                "conv_transpose2d", "conv_transpose3d", "convolution", "Conv1d",
                                "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
                                "ConvTranspose3d")},
    "torch.nn.grad": _CONV_BACKWARD,
    **{name: _POOL for name in ("max_pool1d", "max_pool2d", "max_pool3d",
                                "max_pool2d_with_indices", "avg_pool1d", "avg_pool2d",
                                "avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d",
                                "adaptive_avg_pool1d", "adaptive_avg_pool2d", "lp_pool1d",
                                "lp_pool2d", "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d",
                                "AvgPool2d", "AvgPool3d", "AdaptiveMaxPool2d",
                                "AdaptiveAvgPool2d", "LPPool2d")},
    **{name: _BATCH_NORM for name in ("batch_norm", "native_batch_norm", "instance_norm",
                                      "BatchNorm1d", "BatchNorm2d", "BatchNorm3d",
                                      "InstanceNorm1d", "InstanceNorm2d")},
    "layer_norm": ("layer_norm", "native_layer_norm"), "LayerNorm": ("native_layer_norm",),
    "group_norm": ("group_norm", "native_group_norm"), "GroupNorm": ("native_group_norm",),
    **{name: _DROPOUT for name in ("dropout", "dropout1d", "dropout2d", "dropout3d",
                                   "alpha_dropout", "feature_alpha_dropout", "native_dropout",
                                   "Dropout", "Dropout1d", "Dropout2d", "Dropout3d",
                                   "AlphaDropout")},
    "RNNCell": ("rnn_tanh_cell", "rnn_relu_cell"), "rnn_tanh_cell": ("rnn_tanh_cell",),
    "rnn_relu_cell": ("rnn_relu_cell",), "RNN": _RNN, "rnn_tanh": _RNN, "rnn_relu": _RNN,
    "LSTMCell": ("lstm_cell", "_thnn_fused_lstm_cell"),
    "lstm_cell": ("lstm_cell", "_thnn_fused_lstm_cell"), "LSTM": ("lstm",) + _RNN,
    "lstm": ("lstm",) + _RNN, "GRUCell": ("gru_cell", "_thnn_fused_gru_cell"),
    "gru_cell": ("gru_cell", "_thnn_fused_gru_cell"), "GRU": ("gru",) + _RNN,
    "gru": ("gru",) + _RNN,
    "scaled_dot_product_attention": _SDPA,
    "MultiheadAttention": ("_native_multi_head_attention",),
    "multi_head_attention_forward": ("_native_multi_head_attention",),
}

#: The ways into autograd's engine: forbidding one forbids whatever runs the engine.
ENGINE_ENTRIES = ("torch.autograd.backward", "torch.autograd.grad", "torch.Tensor.backward")
#: Names that stand for no operator of their own name (autograd is seen another way).
NO_ATEN = frozenset({"backward", "grad", "functional", "func", "vmap", "enable_grad"})

#: Every way to let autograd compute a gradient: forbidden where the backward pass is the exercise.
AUTOGRAD = (
    "torch.Tensor.backward",
    "torch.autograd.backward",
    "torch.autograd.grad",
    "torch.autograd.functional",
    "torch.func",
    "torch.enable_grad",
)
