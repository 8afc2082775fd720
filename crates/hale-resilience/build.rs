//! Declares the `loom` cfg, set by `RUSTFLAGS="--cfg loom"` for the loom models, so
//! ordinary builds do not warn about an unknown cfg.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(loom)");
}
