//! Validation of a document against [`crate::SCHEMA`] (feature `validate`), with the
//! `jsonschema` crate built without network or file resolvers: the schema has no external
//! references.

#[cfg(feature = "validate")]
use std::sync::OnceLock;

/// Validates a JSON document against the schedule schema [`crate::SCHEMA`] (draft 2020-12).
/// On failure, one line per violation: `<JSON pointer of the value>: <what is wrong>`
/// (the pointer is empty for the document root).
///
/// This checks the shape of a document as written by [`crate::to_json`]; whether its names
/// resolve and its mappings are valid is [`crate::from_json`]'s and `cimopt_ir::check`'s job.
#[cfg(feature = "validate")]
pub fn validate_against_schema(json: &serde_json::Value) -> Result<(), Vec<String>> {
    static VALIDATOR: OnceLock<Result<jsonschema::Validator, String>> = OnceLock::new();
    let validator = VALIDATOR.get_or_init(|| {
        let schema: serde_json::Value = serde_json::from_str(crate::SCHEMA)
            .map_err(|e| format!("the bundled schema is not JSON: {e}"))?;
        jsonschema::draft202012::new(&schema)
            .map_err(|e| format!("the bundled schema does not compile: {e}"))
    });
    let validator = validator.as_ref().map_err(|e| vec![e.clone()])?;
    let errors: Vec<String> = validator
        .iter_errors(json)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}
