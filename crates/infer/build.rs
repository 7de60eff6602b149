//! Records how the engine itself is compiled (its profile's optimisation level), so benchmarks
//! can say what they measure.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let opt = std::env::var("OPT_LEVEL").unwrap_or_else(|_| "?".into());
    let profile = std::env::var("PROFILE").unwrap_or_else(|_| "?".into());
    println!("cargo:rustc-env=AGORA_INFER_OPT_LEVEL={opt}");
    println!("cargo:rustc-env=AGORA_INFER_PROFILE={}", if profile == "release" { "release" } else { "dev" });
}
