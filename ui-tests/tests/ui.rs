//! Compile-fail and compile-pass cases for bactor-macros. See ../README.md.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/actor/pass/*.rs");
    t.compile_fail("tests/ui/actor/fail/*.rs");
    t.compile_fail("tests/ui/handler/fail/*.rs");
    t.pass("tests/ui/supervise/pass/*.rs");
    t.compile_fail("tests/ui/supervise/fail/*.rs");
    t.pass("tests/ui/persistent/pass/*.rs");
    t.compile_fail("tests/ui/persistent/fail/*.rs");
    t.pass("tests/ui/remote/pass/*.rs");
    t.compile_fail("tests/ui/remote/fail/*.rs");
    t.pass("tests/ui/behavior/pass/*.rs");
    t.compile_fail("tests/ui/behavior/fail/*.rs");
    t.compile_fail("tests/ui/router/fail/*.rs");
}
