// TEMPORARY: candle matmul throughput on this machine.
use candle_core::{DType, Device, Tensor};
use std::time::Instant;
fn bench(name: &str, a: &Tensor, b: &Tensor, flops: f64) {
    let _ = a.matmul(b).unwrap();
    let reps = 10;
    let t = Instant::now();
    for _ in 0..reps {
        let _ = a.matmul(b).unwrap();
    }
    let s = t.elapsed().as_secs_f64() / reps as f64;
    println!("{name}: {:.2} ms  {:.1} GFLOP/s", s * 1e3, flops / s / 1e9);
}
fn main() {
    let d = Device::Cpu;
    let m = 2048;
    let k = 384;
    let n = 1536;
    let x = Tensor::randn(0f32, 1., (m, k), &d).unwrap();
    let w = Tensor::randn(0f32, 1., (n, k), &d).unwrap();
    let wt = w.t().unwrap().contiguous().unwrap();
    bench(
        "x·wᵀ (strided)",
        &x,
        &w.t().unwrap(),
        2.0 * (m * k * n) as f64,
    );
    bench("x·wt (contiguous)", &x, &wt, 2.0 * (m * k * n) as f64);
    let x2 = Tensor::randn(0f32, 1., (m, n), &d).unwrap();
    let w2 = Tensor::randn(0f32, 1., (k, n), &d).unwrap();
    bench(
        "ffn-out x·w2ᵀ",
        &x2,
        &w2.t().unwrap(),
        2.0 * (m * k * n) as f64,
    );
    let q = Tensor::randn(0f32, 1., (8, 12, 256, 32), &d).unwrap();
    let kk = Tensor::randn(0f32, 1., (8, 12, 256, 32), &d).unwrap();
    bench(
        "q·kᵀ",
        &q,
        &kk.t().unwrap(),
        2.0 * (8 * 12 * 256 * 256 * 32) as f64,
    );
    let p = Tensor::randn(0f32, 1., (8, 12, 256, 256), &d).unwrap();
    bench("p·v", &p, &kk, 2.0 * (8 * 12 * 256 * 256 * 32) as f64);
    let _ = DType::F32;
}
