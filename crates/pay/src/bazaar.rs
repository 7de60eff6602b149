//! The x402 `bazaar` extension: a paid route describes how to call it (method, an example body)
//! and what it answers, with a JSON Schema (draft 2020-12, no external references) of that
//! description, so x402 discovery services can list it.

use serde_json::{Value, json};

/// The `extensions` of a 402 for an HTTP route taking a JSON body (`POST`, `PUT`, `PATCH`):
/// `{"bazaar": {"info": {"input", "output"}, "schema"}}`. `body_schema` constrains the example
/// body (and, for a discovery service, what a caller should send).
pub fn json_body_route(method: &str, body: Value, body_schema: Value, output: Value) -> Value {
    json!({
        "bazaar": {
            "info": {
                "input": { "type": "http", "method": method, "bodyType": "json", "body": body },
                "output": { "type": "json", "example": output },
            },
            "schema": {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "input": {
                        "type": "object",
                        "properties": {
                            "type": { "type": "string", "const": "http" },
                            "method": { "type": "string", "enum": ["POST", "PUT", "PATCH"] },
                            "bodyType": { "type": "string", "enum": ["json", "form-data", "text"] },
                            "body": body_schema,
                            "queryParams": { "type": "object", "additionalProperties": { "type": "string" } },
                            "headers": { "type": "object", "additionalProperties": { "type": "string" } },
                        },
                        "required": ["type", "method", "bodyType", "body"],
                        "additionalProperties": false,
                    },
                    "output": {
                        "type": "object",
                        "properties": { "type": { "type": "string" }, "example": { "type": "object" } },
                        "required": ["type"],
                    },
                },
                "required": ["input"],
            },
        }
    })
}

/// The `bazaar` description of an OpenAI-compatible chat completions route: an example request
/// and answer, and the schema of the request body's fields this node reads.
pub fn chat_completions(model: &str) -> Value {
    let body = json!({
        "model": model,
        "messages": [{ "role": "user", "content": "Say hello in one word." }],
        "max_tokens": 16,
        "temperature": 0,
    });
    let body_schema = json!({
        "type": "object",
        "properties": {
            "model": { "type": "string" },
            "messages": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "properties": {
                        "role": { "type": "string", "enum": ["system", "user", "assistant"] },
                        "content": { "type": "string" },
                    },
                    "required": ["role", "content"],
                },
            },
            "max_tokens": { "type": "integer", "minimum": 1 },
            "temperature": { "type": "number", "minimum": 0 },
            "top_p": { "type": "number", "exclusiveMinimum": 0, "maximum": 1 },
            "seed": { "type": "integer" },
            "stream": { "type": "boolean" },
        },
        "required": ["messages"],
    });
    let output = json!({
        "object": "chat.completion",
        "model": model,
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": "Hello!" },
            "finish_reason": "stop",
        }],
        "usage": { "prompt_tokens": 31, "completion_tokens": 3, "total_tokens": 34 },
    });
    json_body_route("POST", body, body_schema, output)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The description is what the spec's example has, and its schema has no external
    /// reference (discovery services must not resolve one).
    #[test]
    fn the_chat_route_is_described_as_the_spec_shows() {
        let ext = chat_completions("SmolLM2");
        let bazaar = &ext["bazaar"];
        assert_eq!(bazaar["info"]["input"]["type"], "http");
        assert_eq!(bazaar["info"]["input"]["method"], "POST");
        assert_eq!(bazaar["info"]["input"]["bodyType"], "json");
        assert_eq!(bazaar["info"]["output"]["type"], "json");
        assert_eq!(bazaar["schema"]["$schema"], "https://json-schema.org/draft/2020-12/schema");
        assert_eq!(bazaar["schema"]["required"], json!(["input"]));
        let text = bazaar["schema"].to_string();
        assert!(!text.contains("$ref") && !text.contains("$id"), "{text}");
        // The example body satisfies its own schema's required fields and types.
        let body = &bazaar["info"]["input"]["body"];
        let body_schema = &bazaar["schema"]["properties"]["input"]["properties"]["body"];
        for field in body_schema["required"].as_array().unwrap() {
            assert!(body.get(field.as_str().unwrap()).is_some(), "{field}");
        }
        assert!(body["messages"].as_array().is_some_and(|m| !m.is_empty()));
    }
}
