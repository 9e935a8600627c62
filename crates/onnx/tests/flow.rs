//! The run-time dataflow the memory plan places: every layer's tensors, the non-CIM nodes
//! between them, and the model's inputs and outputs.

mod common;
use cimopt_onnx::flow::FlowNodeKind;
use common::*;

#[test]
fn every_bundled_model_has_a_consistent_flow() {
    for path in bundled_models() {
        let m = load(&path);
        let f = &m.flow;
        let what = path.display();
        assert_eq!(f.layer_io.len(), m.layers.len(), "{what}");
        // Each tensor has at most one producer, produced before it is read.
        let mut produced: Vec<bool> = f.tensors.iter().map(|t| t.model_input).collect();
        let mut layers_seen = 0;
        for n in &f.nodes {
            for &i in &n.inputs {
                assert!(
                    produced[i],
                    "{what}: `{}` read before it is written",
                    f.tensors[i].name
                );
            }
            for &o in &n.outputs {
                assert!(
                    !produced[o],
                    "{what}: `{}` written twice",
                    f.tensors[o].name
                );
                produced[o] = true;
            }
            if let FlowNodeKind::Layer(i) = n.kind {
                assert_eq!(i, layers_seen, "{what}: layers out of order");
                layers_seen += 1;
                let io = f.layer_io[i];
                assert_eq!(n.inputs[0], io.input);
                assert_eq!(n.outputs, vec![io.output]);
                // The tensors have the layer's sizes.
                let w = &m.layers[i].workload;
                let out = f.tensors[io.output].elements;
                assert_eq!(
                    out,
                    w.operand_size(cimopt_target::Operand::O),
                    "{what} layer {i}"
                );
            }
        }
        assert_eq!(layers_seen, m.layers.len());
        assert!(f.tensors.iter().any(|t| t.model_input), "{what}");
        assert!(f.tensors.iter().any(|t| t.model_output), "{what}");
    }
}

#[test]
fn resnet18_flow_follows_the_residual_blocks() {
    let m = load(&models_dir().join("resnet18.onnx"));
    let f = &m.flow;
    // conv1 reads the model's input.
    assert!(f.tensors[f.layer_io[0].input].model_input);
    // The first block's second conv output meets the block input at an Add.
    let add = f
        .nodes
        .iter()
        .find(|n| n.op_type == "Add")
        .expect("a residual Add");
    assert_eq!(add.inputs.len(), 2);
    // ResNet-18's zoo export folds batch norm into the convolutions: the Add reads the
    // second conv's output itself, and the block's input.
    let conv2 = f.layer_io[2].output;
    assert!(add.inputs.contains(&conv2), "{:?}", add.inputs);
    let block_input = f.layer_io[1].input;
    // The other is the block's input: the max-pooled stem output its first conv reads.
    assert!(add.inputs.contains(&block_input), "{:?}", add.inputs);
    // The fc output is the model's output.
    let last = f.layer_io.last().unwrap();
    assert!(f.tensors[last.output].model_output);
}

#[test]
fn attention_reads_two_run_time_operands() {
    let m = load(&models_dir().join("bert_base.onnx"));
    let act = m
        .layers
        .iter()
        .position(|l| l.workload.weight_kind == cimopt_ir::WeightKind::Activation)
        .expect("an activation x activation MatMul");
    assert!(m.flow.layer_io[act].weight.is_some());
    let constant = m
        .layers
        .iter()
        .position(|l| l.workload.weight_kind == cimopt_ir::WeightKind::Constant)
        .unwrap();
    assert!(m.flow.layer_io[constant].weight.is_none());
}
