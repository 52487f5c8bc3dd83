//! Integration tests for the embedders, one module per backend.

mod minilm;
mod openai_contract;
