//! ResNet-18's distinct CIM layers on 224×224 inputs with their multiplicities, as
//! `models/resnet18.onnx` lowers them (`cimopt inspect models/resnet18.onnx` lists the same
//! shapes).
use cimopt_ir::{OpKind, WeightKind, Workload};

/// A ResNet convolution: square, "same" padding, input `p·stride` wide.
pub fn conv(r: u64, p: u64, c: u64, k: u64, stride: u64) -> Workload {
    let pad = (r - 1) / 2;
    Workload {
        op: OpKind::Conv,
        weight_kind: WeightKind::Constant,
        r,
        s: r,
        p,
        q: p,
        c,
        k,
        g: 1,
        b: 1,
        h: p * stride,
        w: p * stride,
        stride: [stride, stride],
        pad: [pad; 4],
        dilation: [1, 1],
        bits: cimopt_ir::Bits::FLOAT,
    }
}

/// (copies, workload), in model order.
pub fn layers() -> Vec<(u64, Workload)> {
    vec![
        (1, conv(7, 112, 3, 64, 2)),
        (4, conv(3, 56, 64, 64, 1)),
        (1, conv(3, 28, 64, 128, 2)),
        (3, conv(3, 28, 128, 128, 1)),
        (1, conv(1, 28, 64, 128, 2)),
        (1, conv(3, 14, 128, 256, 2)),
        (3, conv(3, 14, 256, 256, 1)),
        (1, conv(1, 14, 128, 256, 2)),
        (1, conv(3, 7, 256, 512, 2)),
        (3, conv(3, 7, 512, 512, 1)),
        (1, conv(1, 7, 256, 512, 2)),
        (
            1,
            Workload {
                op: OpKind::Gemm,
                ..conv(1, 1, 512, 1000, 1)
            },
        ),
    ]
}
