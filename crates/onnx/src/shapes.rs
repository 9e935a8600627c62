//! Shape inference with tract, on a copy of the model tract can read.

use crate::{FrontendError, display_name, panics};
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use tract_onnx::pb;
use tract_onnx::pb::tensor_shape_proto::dimension::Value as DimValue;
use tract_onnx::pb::type_proto::Value as TypeValue;

/// The model as tract gets it: the original unless something in it needs rewriting (then a
/// copy). Rewrites keep every tensor name and shape:
///
/// - a graph input's declared dimension ≤ 0 becomes unknown (tract reads 0 as a real extent
///   and may divide by it), and a graph input without a type gets a float type of unknown
///   shape (tract refuses the file otherwise); such inputs are refused later, or not used,
///   with a message of their own.
pub(crate) fn for_tract(proto: &pb::ModelProto) -> Cow<'_, pb::ModelProto> {
    let bad_dim = |d: &pb::tensor_shape_proto::Dimension| matches!(d.value, Some(DimValue::DimValue(v)) if v <= 0);
    fn dims_of(vi: &pb::ValueInfoProto) -> Option<&Vec<pb::tensor_shape_proto::Dimension>> {
        match vi.r#type.as_ref()?.value.as_ref()? {
            TypeValue::TensorType(t) => t.shape.as_ref().map(|s| &s.dim),
        }
    }
    let Some(graph) = proto.graph.as_ref() else {
        return Cow::Borrowed(proto);
    };
    let untyped = |vi: &pb::ValueInfoProto| vi.r#type.as_ref().is_none_or(|t| t.value.is_none());
    if !graph
        .input
        .iter()
        .any(|vi| untyped(vi) || dims_of(vi).is_some_and(|d| d.iter().any(bad_dim)))
    {
        return Cow::Borrowed(proto);
    }
    let mut copy = proto.clone();
    let graph = copy.graph.as_mut().expect("checked above");
    for vi in &mut graph.input {
        if untyped(vi) {
            vi.r#type = Some(pb::TypeProto {
                denotation: String::new(),
                value: Some(TypeValue::TensorType(pb::type_proto::Tensor {
                    elem_type: pb::tensor_proto::DataType::Float as i32,
                    shape: None,
                })),
            });
        }
        if let Some(TypeValue::TensorType(t)) = vi.r#type.as_mut().and_then(|t| t.value.as_mut())
            && let Some(shape) = t.shape.as_mut()
        {
            for d in shape.dim.iter_mut().filter(|d| bad_dim(d)) {
                d.value = Some(DimValue::DimParam("?".into()));
            }
        }
    }
    Cow::Owned(copy)
}

/// Concrete tensor shapes by name, from tract's shape inference.
pub(crate) struct Shapes {
    map: HashMap<String, Vec<u64>>,
    /// The first error tract's analysis reported, for messages about missing shapes.
    pub(crate) analysis_error: Option<String>,
}

impl Shapes {
    pub(crate) fn get(&self, name: &str) -> Option<&Vec<u64>> {
        self.map.get(name)
    }
}

pub(crate) fn infer_shapes(path: &Path, proto: &pb::ModelProto) -> Result<Shapes, FrontendError> {
    use tract_onnx::prelude::*;
    let dir = path
        .parent()
        .and_then(|p| p.to_str())
        .map(|s| s.to_string());
    let run = || -> Result<Shapes, String> {
        let framework = onnx();
        let parsed = framework
            .parse(proto, dir.as_deref())
            .map_err(|e| display_name(&format!("{e:#}")))?;
        let mut model = parsed.model;
        let analysis_error = match model.analyse(false) {
            Ok(_) => None,
            Err(e) => {
                let msg = display_name(&format!("{e:#}"));
                let _ = model.analyse(true);
                Some(msg)
            }
        };
        let mut map = HashMap::new();
        for (name, outlet) in &parsed.outlets_by_name {
            if let Ok(fact) = model.outlet_fact(*outlet)
                && let Ok(Some(dims)) = fact.shape.as_concrete_finite()
            {
                map.insert(name.clone(), dims.iter().map(|&d| d as u64).collect());
            }
        }
        Ok(Shapes {
            map,
            analysis_error,
        })
    };
    let result = {
        let _quiet = panics::Quiet::new();
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
    };
    match result {
        Ok(Ok(shapes)) => Ok(shapes),
        Ok(Err(reason)) => Err(FrontendError::InvalidModel {
            path: path.to_path_buf(),
            reason: format!("tract cannot parse it: {reason}"),
        }),
        Err(payload) => Err(FrontendError::InvalidModel {
            path: path.to_path_buf(),
            reason: match panics::message(payload.as_ref()) {
                Some(m) => format!(
                    "tract panicked while inferring its shapes ({})",
                    display_name(m)
                ),
                None => "tract panicked while inferring its shapes".into(),
            },
        }),
    }
}
