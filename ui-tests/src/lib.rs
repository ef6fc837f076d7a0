//! trybuild cases for bactor-macros live in tests/.
