//! Compile-time behaviour of `#[plugin_interface]`: what it accepts (`ui/pass`, built and run)
//! and how it refuses (`ui/fail`, with the compiler's output in the `.stderr` next to each).
//! Refresh the snapshots with `TRYBUILD=overwrite cargo test -p plugin-tests --test ui`, then
//! read every changed `.stderr`: each must be one clear error on the user's own code.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui/pass/*.rs");
    t.compile_fail("ui/fail/*.rs");
}
