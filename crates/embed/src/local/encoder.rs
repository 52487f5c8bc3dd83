//! A lean BERT encoder for CPU inference, reading the same weights and `config.json` as
//! `candle_transformers::models::bert::BertModel` and computing the same function, faster on
//! CPU:
//! - **no padding anywhere**: the texts of a forward pass are packed one after another into a
//!   single (tokens, hidden) matrix. Every step but attention works token by token, so one
//!   matrix multiplication serves the whole batch; attention runs per text over its real
//!   length, the texts in parallel. A batch of mixed lengths costs what its tokens cost;
//! - query, key and value are one matrix multiplication, and the `1/sqrt(head_dim)` attention
//!   scale is folded into the query weights at load time;
//! - the weights are kept transposed, (inputs, outputs), so the matrix multiplication reads
//!   them as they lie instead of repacking them on every call ([`Dense`]); after each product
//!   the bias, the residual and GELU are added in one in-place pass split over the thread pool,
//!   GELU with a fast `erf` (|error| < 1.5e-7, below f32 resolution) instead of libm's;
//! - softmax runs in place, with an `exp` the compiler vectorises.
//!
//! `tests/embedders/minilm.rs` checks the output against an independent reference
//! implementation.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, InplaceOp1, InplaceOp2, Layout, Module, Result, Tensor};
use candle_nn::{LayerNorm, LayerNormConfig, VarBuilder};
use candle_transformers::models::bert::{Config, HiddenAct};
use rayon::prelude::*;

/// Values per parallel work item in the element-wise kernels: small enough to split a short
/// query's activations over two cores, large enough that scheduling costs nothing.
const ELEMENTWISE_CHUNK: usize = 8 * 1024;

pub(super) struct BertEncoder {
    word_embeddings: Tensor,
    position_embeddings: Tensor,
    /// Every input is a single sentence: token type 0 throughout.
    token_type_embedding: Tensor,
    embeddings_norm: LayerNorm,
    layers: Vec<EncoderLayer>,
    num_heads: usize,
    head_dim: usize,
}

struct EncoderLayer {
    /// Query, key and value stacked: (3 × hidden, hidden). Query rows pre-scaled.
    query_key_value: Dense,
    attention_output: Dense,
    attention_norm: LayerNorm,
    intermediate: Dense,
    output: Dense,
    output_norm: LayerNorm,
}

/// Where each text's tokens sit in the packed matrix: rows `start..start + length`.
#[derive(Debug, Clone, Copy)]
struct Segment {
    start: usize,
    length: usize,
}

impl BertEncoder {
    pub(super) fn load(vb: VarBuilder, config: &Config) -> Result<Self> {
        if config.hidden_act != HiddenAct::Gelu {
            candle_core::bail!(
                "only hidden_act \"gelu\" is supported, this model uses {:?}",
                config.hidden_act
            );
        }
        if config.hidden_size.checked_rem(config.num_attention_heads) != Some(0) {
            candle_core::bail!(
                "hidden_size {} is not divisible by num_attention_heads {}",
                config.hidden_size,
                config.num_attention_heads
            );
        }
        // Checkpoints saved from BertModel have no prefix; from BertFor* they have "bert.".
        let vb = if vb.contains_tensor("embeddings.word_embeddings.weight") {
            vb
        } else {
            vb.pp("bert")
        };
        let hidden = config.hidden_size;
        let norm_config = LayerNormConfig {
            eps: config.layer_norm_eps,
            ..LayerNormConfig::default()
        };

        let embeddings = vb.pp("embeddings");
        let word_embeddings =
            embeddings.get((config.vocab_size, hidden), "word_embeddings.weight")?;
        let position_embeddings = embeddings.get(
            (config.max_position_embeddings, hidden),
            "position_embeddings.weight",
        )?;
        let token_type_embedding = embeddings
            .get(
                (config.type_vocab_size, hidden),
                "token_type_embeddings.weight",
            )?
            .get(0)?;
        let embeddings_norm =
            candle_nn::layer_norm(hidden, norm_config, embeddings.pp("LayerNorm"))?;

        let head_dim = hidden / config.num_attention_heads;
        let layers = (0..config.num_hidden_layers)
            .map(|index| {
                EncoderLayer::load(
                    vb.pp(format!("encoder.layer.{index}")),
                    config,
                    head_dim,
                    norm_config,
                )
            })
            .collect::<Result<Vec<_>>>()?;

        Ok(Self {
            word_embeddings,
            position_embeddings,
            token_type_embedding,
            embeddings_norm,
            layers,
            num_heads: config.num_attention_heads,
            head_dim,
        })
    }

    /// `texts`: the word-piece ids of each text (none empty). Returns the last hidden state of
    /// every token, the texts' tokens one after another: (total tokens, hidden).
    pub(super) fn forward(&self, texts: &[&[u32]]) -> Result<Tensor> {
        if texts.iter().any(|ids| ids.is_empty()) {
            candle_core::bail!("every text needs at least one token");
        }
        let device = self.word_embeddings.device();
        let mut segments = Vec::with_capacity(texts.len());
        let mut ids = Vec::new();
        let mut positions = Vec::new();
        for text in texts {
            segments.push(Segment {
                start: ids.len(),
                length: text.len(),
            });
            ids.extend_from_slice(text);
            positions.extend(0..text.len() as u32);
        }
        let total = ids.len();
        let ids = Tensor::from_vec(ids, total, device)?;
        let positions = Tensor::from_vec(positions, total, device)?;

        let words = self.word_embeddings.index_select(&ids, 0)?;
        let positions = self.position_embeddings.index_select(&positions, 0)?;
        let embedded = (words + positions)?.broadcast_add(&self.token_type_embedding)?;
        let mut hidden_states = self.embeddings_norm.forward(&embedded)?;
        for layer in &self.layers {
            hidden_states =
                layer.forward(&hidden_states, &segments, self.num_heads, self.head_dim)?;
        }
        Ok(hidden_states)
    }
}

impl EncoderLayer {
    fn load(
        vb: VarBuilder,
        config: &Config,
        head_dim: usize,
        norm_config: LayerNormConfig,
    ) -> Result<Self> {
        let hidden = config.hidden_size;
        let self_attention = vb.pp("attention.self");
        let linear_parts = |name: &str| -> Result<(Tensor, Tensor)> {
            let part = self_attention.pp(name);
            Ok((
                part.get((hidden, hidden), "weight")?,
                part.get(hidden, "bias")?,
            ))
        };
        let (query_weight, query_bias) = linear_parts("query")?;
        let (key_weight, key_bias) = linear_parts("key")?;
        let (value_weight, value_bias) = linear_parts("value")?;
        let scale = 1.0 / (head_dim as f64).sqrt();
        let query_key_value = Dense::new(
            Tensor::cat(&[(query_weight * scale)?, key_weight, value_weight], 0)?,
            Tensor::cat(&[(query_bias * scale)?, key_bias, value_bias], 0)?,
        )?;

        Ok(Self {
            query_key_value,
            attention_output: Dense::load(hidden, hidden, vb.pp("attention.output.dense"))?,
            attention_norm: candle_nn::layer_norm(
                hidden,
                norm_config,
                vb.pp("attention.output.LayerNorm"),
            )?,
            intermediate: Dense::load(
                hidden,
                config.intermediate_size,
                vb.pp("intermediate.dense"),
            )?,
            output: Dense::load(config.intermediate_size, hidden, vb.pp("output.dense"))?,
            output_norm: candle_nn::layer_norm(hidden, norm_config, vb.pp("output.LayerNorm"))?,
        })
    }

    /// `input`: (tokens, hidden), the texts' tokens packed as `segments` say.
    fn forward(
        &self,
        input: &Tensor,
        segments: &[Segment],
        num_heads: usize,
        head_dim: usize,
    ) -> Result<Tensor> {
        let (tokens, hidden) = input.dims2()?;

        // (tokens, 3·hidden) → (tokens, 3, heads, head_dim); each text attends to itself.
        let query_key_value = self
            .query_key_value
            .forward(input)?
            .reshape((tokens, 3, num_heads, head_dim))?;
        let attend = |segment: &Segment| -> Result<Tensor> {
            // (length, 3, heads, head_dim) → (3, heads, length, head_dim)
            let text = query_key_value
                .narrow(0, segment.start, segment.length)?
                .permute((1, 2, 0, 3))?
                .contiguous()?;
            let (query, key, value) = (text.get(0)?, text.get(1)?, text.get(2)?);
            let scores = query.matmul(&key.t()?)?;
            scores.inplace_op1(&Softmax)?;
            scores
                .matmul(&value)?
                .transpose(0, 1)?
                .contiguous()?
                .reshape((segment.length, hidden))
        };
        let contexts: Vec<Tensor> = if segments.len() == 1 {
            vec![attend(&segments[0])?]
        } else {
            segments.par_iter().map(attend).collect::<Result<_>>()?
        };
        let context = Tensor::cat(&contexts, 0)?;
        let attended = self
            .attention_norm
            .forward(&self.attention_output.forward_plus(&context, input)?)?;

        let intermediate = self.intermediate.forward_gelu(&attended)?;
        self.output_norm
            .forward(&self.output.forward_plus(&intermediate, &attended)?)
    }
}

/// A fully connected layer whose weight is kept transposed, (inputs, outputs) and contiguous, so
/// that `input · weight` reads it as the row-major right-hand side the matrix multiplication
/// wants. With the checkpoint's (outputs, inputs) layout, `input · weightᵀ` made `gemm` repack
/// the whole weight on every call: for a 10-token question that repacking was 3/4 of the pass
/// (13.1 ms → 4.2 ms per question on 2 cores, `ONLY=query` in `examples/speed.rs`).
struct Dense {
    weight: Tensor,
    bias: Vec<f32>,
}

impl Dense {
    fn load(inputs: usize, outputs: usize, vb: VarBuilder) -> Result<Self> {
        Self::new(
            vb.get((outputs, inputs), "weight")?,
            vb.get(outputs, "bias")?,
        )
    }

    /// `weight` as checkpoints store it: (outputs, inputs).
    fn new(weight: Tensor, bias: Tensor) -> Result<Self> {
        Ok(Self {
            weight: weight.t()?.contiguous()?,
            bias: bias.to_vec1()?,
        })
    }

    /// (tokens, inputs) → (tokens, outputs).
    fn forward(&self, input: &Tensor) -> Result<Tensor> {
        self.apply(input, None, Activation::None)
    }

    /// The layer followed by GELU.
    fn forward_gelu(&self, input: &Tensor) -> Result<Tensor> {
        self.apply(input, None, Activation::Gelu)
    }

    /// The layer plus a residual of the output's shape.
    fn forward_plus(&self, input: &Tensor, residual: &Tensor) -> Result<Tensor> {
        self.apply(input, Some(residual), Activation::None)
    }

    /// The bias, the residual and the activation are added in one parallel pass over the
    /// product, in place: candle's element-wise `+` allocates and runs on one core, which on a
    /// batch of documents kept the second core idle for ~15% of the pass.
    fn apply(
        &self,
        input: &Tensor,
        residual: Option<&Tensor>,
        activation: Activation,
    ) -> Result<Tensor> {
        let output = input.matmul(&self.weight)?;
        let epilogue = Epilogue {
            bias: &self.bias,
            activation,
        };
        match residual {
            Some(residual) => output.inplace_op2(residual, &epilogue)?,
            None => output.inplace_op1(&epilogue)?,
        }
        Ok(output)
    }
}

#[derive(Debug, Clone, Copy)]
enum Activation {
    None,
    Gelu,
}

/// What follows a matrix multiplication, in place on its (tokens, outputs) product: `+ bias`
/// on every row, `+ residual` when one is given, then the activation.
struct Epilogue<'a> {
    bias: &'a [f32],
    activation: Activation,
}

impl Epilogue<'_> {
    fn run(&self, output: &mut [f32], residual: Option<&[f32]>) {
        let width = self.bias.len();
        let rows_per_chunk = (ELEMENTWISE_CHUNK / width).max(1);
        let finish = |row: &mut [f32], residual: Option<&[f32]>| {
            for (value, bias) in row.iter_mut().zip(self.bias) {
                *value += bias;
            }
            if let Some(residual) = residual {
                for (value, residual) in row.iter_mut().zip(residual) {
                    *value += residual;
                }
            }
            if let Activation::Gelu = self.activation {
                for value in row.iter_mut() {
                    *value = gelu(*value);
                }
            }
        };
        let chunks = output.par_chunks_mut(rows_per_chunk * width);
        match residual {
            Some(residual) => chunks
                .zip(residual.par_chunks(rows_per_chunk * width))
                .for_each(|(chunk, residual)| {
                    for (row, residual) in chunk
                        .chunks_exact_mut(width)
                        .zip(residual.chunks_exact(width))
                    {
                        finish(row, Some(residual));
                    }
                }),
            None => chunks.for_each(|chunk| {
                for row in chunk.chunks_exact_mut(width) {
                    finish(row, None);
                }
            }),
        }
    }
}

/// The values of a contiguous f32 tensor; `what` names it in the error.
fn contiguous_f32<'s>(storage: &'s CpuStorage, layout: &Layout, what: &str) -> Result<&'s [f32]> {
    let CpuStorage::F32(data) = storage else {
        candle_core::bail!("{what}: expected f32 values, got {:?}", storage.dtype());
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("{what}: expected a contiguous tensor");
    };
    Ok(&data[start..end])
}

/// [`contiguous_f32`], to modify in place.
fn contiguous_f32_mut<'s>(
    storage: &'s mut CpuStorage,
    layout: &Layout,
    what: &str,
) -> Result<&'s mut [f32]> {
    let dtype = storage.dtype();
    let CpuStorage::F32(data) = storage else {
        candle_core::bail!("{what}: expected f32 values, got {dtype:?}");
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("{what}: expected a contiguous tensor");
    };
    Ok(&mut data[start..end])
}

impl InplaceOp1 for Epilogue<'_> {
    fn name(&self) -> &'static str {
        "dense-epilogue"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> Result<()> {
        let output = contiguous_f32_mut(storage, layout, "a layer's output")?;
        if output.len() % self.bias.len() != 0 {
            candle_core::bail!(
                "{} values are not rows of {}",
                output.len(),
                self.bias.len()
            );
        }
        self.run(output, None);
        Ok(())
    }
}

impl InplaceOp2 for Epilogue<'_> {
    fn name(&self) -> &'static str {
        "dense-epilogue-residual"
    }

    fn cpu_fwd(
        &self,
        storage: &mut CpuStorage,
        layout: &Layout,
        residual: &CpuStorage,
        residual_layout: &Layout,
    ) -> Result<()> {
        let residual = contiguous_f32(residual, residual_layout, "a residual")?;
        let output = contiguous_f32_mut(storage, layout, "a layer's output")?;
        if output.len() != residual.len() || output.len() % self.bias.len() != 0 {
            candle_core::bail!(
                "a residual of {} values does not fit an output of {} rows of {}",
                residual.len(),
                output.len() / self.bias.len(),
                self.bias.len()
            );
        }
        self.run(output, Some(residual));
        Ok(())
    }
}

/// Softmax over the last dimension, in place: one text's attention scores, every key real.
struct Softmax;

impl InplaceOp1 for Softmax {
    fn name(&self) -> &'static str {
        "softmax-last-dim"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> Result<()> {
        let keys = layout.shape().dims().last().copied().unwrap_or(1).max(1);
        let scores = contiguous_f32_mut(storage, layout, "softmax scores")?;
        for row in scores.chunks_exact_mut(keys) {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            for score in row.iter_mut() {
                *score = exp_non_positive(*score - max);
            }
            let sum: f32 = row.iter().sum();
            let inverse = 1.0 / sum;
            for score in row.iter_mut() {
                *score *= inverse;
            }
        }
        Ok(())
    }
}

/// GELU, `x · Φ(x)` with the exact (erf) form BERT was trained with.
#[inline]
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// `e^x` for `x ≤ 0` (softmax's shifted scores), |relative error| < 2e-7, in straight-line
/// arithmetic the compiler vectorises: a loop of these runs several times faster than libm's
/// `expf`, which was a fifth of a document batch's time. Below -87 it returns 0 (`e^-87` is at
/// the edge of f32's normal range).
#[inline]
fn exp_non_positive(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in two so that `x - n·ln 2` stays exact for |n| ≤ 127.
    const LN2_HIGH: f32 = 0.693_359_4;
    const LN2_LOW: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5·2^23 rounds to the nearest integer without a libm call.
    const ROUND: f32 = 12_582_912.0;
    let x = x.max(-87.0);
    let n = (x * LOG2_E + ROUND) - ROUND;
    let r = (x - n * LN2_HIGH) - n * LN2_LOW;
    // e^r on |r| ≤ ln2/2: Taylor to degree 6 (truncation ≤ 1.2e-7).
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    let scale = f32::from_bits((((n as i32) + 127) as u32) << 23);
    p * scale
}

/// Abramowitz & Stegun 7.1.26: |error| ≤ 1.5e-7.
#[inline]
fn erf(x: f32) -> f32 {
    const P: f32 = 0.327_591_1;
    const A1: f32 = 0.254_829_6;
    const A2: f32 = -0.284_496_74;
    const A3: f32 = 1.421_413_8;
    const A4: f32 = -1.453_152_1;
    const A5: f32 = 1.061_405_4;
    let magnitude = x.abs();
    let t = 1.0 / (1.0 + P * magnitude);
    let polynomial = ((((A5 * t + A4) * t + A3) * t + A2) * t + A1) * t;
    let result = 1.0 - polynomial * (-magnitude * magnitude).exp();
    result.copysign(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_erf_matches_libm_within_f32_resolution() {
        let worst = (-6000..=6000)
            .map(|step| step as f32 / 1000.0)
            .map(|x| (erf(x) - candle_core::cpu::erf::erf_f32(x)).abs())
            .fold(0.0, f32::max);

        assert!(worst < 5e-7, "worst error {worst}");
    }

    #[test]
    fn fast_exp_matches_libm_on_every_softmax_input() {
        let worst = (0..=870_000)
            .map(|step| -(step as f32) / 10_000.0)
            .map(|x| ((exp_non_positive(x) - x.exp()) / x.exp()).abs())
            .fold(0.0, f32::max);

        assert!(worst < 5e-7, "worst relative error {worst}");
        assert_eq!(exp_non_positive(0.0), 1.0);
        assert_eq!(exp_non_positive(-1.0e9), exp_non_positive(-87.0));
    }

    #[test]
    fn softmax_turns_each_row_into_weights_that_sum_to_one() {
        let scores =
            Tensor::new(&[[1.0f32, 2.0], [0.0, 0.0]], &candle_core::Device::Cpu).expect("tensor");

        scores.inplace_op1(&Softmax).expect("softmax runs");

        let rows: Vec<Vec<f32>> = scores.to_vec2().expect("rows");
        let e = std::f32::consts::E;
        assert!((rows[0][0] - 1.0 / (1.0 + e)).abs() < 1e-6);
        assert!((rows[0][1] - e / (1.0 + e)).abs() < 1e-6);
        assert_eq!(rows[1], vec![0.5, 0.5]);
    }
}
